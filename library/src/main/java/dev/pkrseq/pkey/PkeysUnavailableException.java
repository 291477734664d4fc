package dev.pkrseq.pkey;

/**
 * Protection keys do not work on this machine: the CPU lacks PKU, or the kernel did not enable it. The
 * message says which, in words. pkrseq throws this before any instruction that would raise SIGILL.
 */
public final class PkeysUnavailableException extends UnsupportedOperationException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception.
     *
     * @param message what is missing, in words
     */
    public PkeysUnavailableException(String message) {
        super(message);
    }
}
