package dev.pkrseq.cli;

/** A command line that parsed but makes no sense, reported in one line with exit status 2. */
final class UsageException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    UsageException(String message) {
        super(message);
    }
}
