package dev.pkrseq.pkey;

/**
 * Refused: denying key 0, or freeing it. Key 0 is the default key: the JVM's heap, stacks, code and
 * every page nobody tagged carry it, so denying it would kill the JVM at its next memory access.
 */
public final class KeyZeroException extends PkeyMisuseException {
    private static final long serialVersionUID = 1L;

    private KeyZeroException(String message) {
        super(message);
    }

    static KeyZeroException deny(Rights rights) {
        return new KeyZeroException("refusing to set key 0 to " + rights + ": key 0 tags the JVM's heap, stacks and code,"
                + " so denying it would kill the JVM");
    }

    static KeyZeroException free() {
        return new KeyZeroException("refusing to free key 0: it is the default key that every untagged page carries,"
                + " and it was never allocated");
    }
}
