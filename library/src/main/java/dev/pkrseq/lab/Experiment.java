package dev.pkrseq.lab;

/**
 * One observed kernel behaviour, in the style of the kernel selftests: set up, observe, compare with
 * what the kernel documents, clean up.
 *
 * <p>An experiment leaves nothing behind: keys freed, pages unmapped, PKRU restored, its own rseq
 * registrations undone. Anything that must really fault runs in a child JVM.
 */
public interface Experiment {
    /**
     * A stable identifier, {@code <area>.<behaviour>}.
     *
     * @return for example {@code pkey.smaps-shows-tag}
     */
    String id();

    /**
     * One line on what the experiment does.
     *
     * @return the title
     */
    String title();

    /**
     * What the kernel documents, in words.
     *
     * @return the expectation
     */
    String expected();

    /**
     * Runs the experiment. It returns a skipped result when the machine lacks what it needs; an
     * exception it throws is reported as an unexpected outcome by {@link Experiments#run}.
     *
     * @return the result
     * @throws Exception when the set-up fails
     */
    ExperimentResult run() throws Exception;
}
