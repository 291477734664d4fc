package dev.pkrseq;

/**
 * Refused: a rights value with bits other than PKEY_DISABLE_ACCESS (1) and PKEY_DISABLE_WRITE (2).
 */
public final class InvalidRightsException extends MisuseException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception.
     *
     * @param bits the rights bits refused
     */
    public InvalidRightsException(int bits) {
        super(String.format("invalid protection key rights 0x%x: only PKEY_DISABLE_ACCESS (0x1) and PKEY_DISABLE_WRITE"
                + " (0x2) exist", bits));
    }
}
