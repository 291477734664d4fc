package dev.pkrseq.lab;

/**
 * What one experiment expected, what it observed, and how the two compare.
 *
 * @param id stable identifier, for example {@code pkey.hole-enomem}
 * @param title one line on what the experiment does
 * @param expected what the kernel documents
 * @param observed what happened here
 * @param outcome the comparison
 * @param detail numbers, addresses or the reason for a skip
 */
public record ExperimentResult(String id, String title, String expected, String observed, Outcome outcome,
        String detail) {

    /**
     * A result for an experiment that could not run.
     *
     * @param experiment the experiment
     * @param reason what is missing, in words
     * @return a {@link Outcome#SKIPPED} result
     */
    public static ExperimentResult skipped(Experiment experiment, String reason) {
        return new ExperimentResult(experiment.id(), experiment.title(), experiment.expected(), "not run",
                Outcome.SKIPPED, reason);
    }

    /**
     * A result that compares an observation with the expectation.
     *
     * @param experiment the experiment
     * @param asExpected whether the observation matches
     * @param observed what happened, in words
     * @param detail supporting numbers
     * @return an {@link Outcome#AS_EXPECTED} or {@link Outcome#UNEXPECTED} result
     */
    public static ExperimentResult of(Experiment experiment, boolean asExpected, String observed, String detail) {
        return new ExperimentResult(experiment.id(), experiment.title(), experiment.expected(), observed,
                asExpected ? Outcome.AS_EXPECTED : Outcome.UNEXPECTED, detail);
    }
}
