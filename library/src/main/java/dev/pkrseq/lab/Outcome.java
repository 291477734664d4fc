package dev.pkrseq.lab;

import java.util.Locale;

/** How an experiment's observation compares with what the kernel documents. */
public enum Outcome {
    /** The kernel did what its documentation and selftests say. */
    AS_EXPECTED,
    /** The kernel, the C library or the JVM did something else; the detail says what. */
    UNEXPECTED,
    /** The experiment could not run here; the detail says what is missing. */
    SKIPPED;

    /**
     * The name reports use.
     *
     * @return "as-expected", "unexpected" or "skipped"
     */
    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
}
