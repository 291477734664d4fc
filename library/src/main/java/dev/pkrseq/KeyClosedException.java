package dev.pkrseq;

/** Refused: using a protection key after {@link dev.pkrseq.pkey.ProtectionKey#close()} freed it. */
public final class KeyClosedException extends MisuseException {
    private static final long serialVersionUID = 1L;

    /** The key number the closed key had. */
    private final int key;

    /**
     * Creates the exception.
     *
     * @param key the closed key
     * @param action what was refused, for example "set rights"
     */
    public KeyClosedException(int key, String action) {
        super("cannot " + action + ": protection key " + key + " is closed (freed), and its number may already"
                + " belong to a new owner");
        this.key = key;
    }

    /**
     * The key's number when it was open.
     *
     * @return 1 to 15
     */
    public int key() {
        return key;
    }
}
