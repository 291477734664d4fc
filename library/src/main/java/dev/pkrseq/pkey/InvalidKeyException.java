package dev.pkrseq.pkey;

/** Refused: a protection key number outside 0 to 15, the keys x86 PKRU holds. */
public final class InvalidKeyException extends PkeyMisuseException {
    private static final long serialVersionUID = 1L;

    private InvalidKeyException(int key) {
        super("protection key " + key + " is out of range: x86 has keys 0 to 15");
    }

    static void check(int key) {
        if (key < 0 || key >= Pkru.KEYS) {
            throw new InvalidKeyException(key);
        }
    }
}
