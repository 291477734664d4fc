package dev.pkrseq.lab;

import dev.pkrseq.lab.pkey.KernelPathExperiments;
import dev.pkrseq.lab.pkey.PkeyExperiments;
import dev.pkrseq.lab.rseq.RseqExperiments;
import dev.pkrseq.lab.rseq.RseqUnderKey;
import dev.pkrseq.lab.tls.TlsExperiments;
import java.util.ArrayList;
import java.util.List;

/** The experiments {@code pkrseq probe} runs, in report order. */
public final class Experiments {
    private Experiments() {
    }

    /**
     * Every experiment pkrseq knows.
     *
     * @return a new list, in report order
     */
    public static List<Experiment> all() {
        List<Experiment> list = new ArrayList<>(PkeyExperiments.all());
        list.addAll(KernelPathExperiments.all());
        list.addAll(PkeyExperiments.jvmThreads());
        list.addAll(TlsExperiments.all());
        list.addAll(RseqExperiments.all());
        list.addAll(RseqUnderKey.all());
        return list;
    }

    /**
     * Runs one experiment and turns a failure to set up into an unexpected outcome, so that a report
     * is always complete.
     *
     * @param experiment the experiment
     * @return its result
     */
    public static ExperimentResult run(Experiment experiment) {
        try {
            return experiment.run();
        } catch (Exception | AssertionError e) {
            return new ExperimentResult(experiment.id(), experiment.title(), experiment.expected(),
                    "failed: " + e.getClass().getSimpleName(), Outcome.UNEXPECTED, String.valueOf(e.getMessage()));
        }
    }
}
