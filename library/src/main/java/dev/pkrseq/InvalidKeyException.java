package dev.pkrseq;

/** Refused: a protection key number outside 0 to 15, the keys x86 PKRU holds. */
public final class InvalidKeyException extends MisuseException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception.
     *
     * @param key the number refused
     */
    public InvalidKeyException(int key) {
        super("protection key " + key + " is out of range: x86 has keys 0 to 15");
    }
}
