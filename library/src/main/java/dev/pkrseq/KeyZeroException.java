package dev.pkrseq;

/**
 * Refused: denying key 0, or freeing it. Key 0 is the default key: the JVM's heap, stacks, code and
 * every page nobody tagged carry it, so denying it would kill the JVM at its next memory access.
 */
public final class KeyZeroException extends MisuseException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception.
     *
     * @param message what was refused on key 0, and why
     */
    public KeyZeroException(String message) {
        super(message);
    }
}
