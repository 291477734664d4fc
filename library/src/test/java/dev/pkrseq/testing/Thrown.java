package dev.pkrseq.testing;

/**
 * What a misuse threw, in the one line a child JVM reports it in ({@code <SimpleName>|<message>}), so
 * that the parent test can check the exception's type and message.
 */
public final class Thrown {
    private Thrown() {
    }

    /** A misuse that is expected to throw. */
    @FunctionalInterface
    public interface Misuse {
        /**
         * Runs the misuse.
         *
         * @throws Exception what it was refused with
         */
        void run() throws Exception;
    }

    /**
     * Runs a misuse and describes what it threw; errors (an assertion's, the JVM's) are not caught.
     *
     * @param misuse the call
     * @return {@code <SimpleName>|<message>}, or {@code none|no exception}
     */
    public static String described(Misuse misuse) {
        try {
            misuse.run();
            return "none|no exception";
        } catch (Exception e) {
            return e.getClass().getSimpleName() + "|" + e.getMessage();
        }
    }
}
