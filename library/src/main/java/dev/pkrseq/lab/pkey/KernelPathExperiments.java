package dev.pkrseq.lab.pkey;

import dev.pkrseq.lab.Experiment;
import dev.pkrseq.lab.ExperimentResult;

import java.util.List;
import java.util.stream.Collectors;


/**
 * The kernel-path matrix as experiments, one per path: {@code pkey.kernel-path.<path>} tries the path
 * with the page's key under no-access and under no-write (see {@link KernelPaths}).
 */
public final class KernelPathExperiments {
    /** The prefix of every id here. */
    public static final String PREFIX = "pkey.kernel-path.";

    private KernelPathExperiments() {
    }

    /**
     * One experiment per kernel path, in report order.
     *
     * @return a new list
     */
    public static List<Experiment> all() {
        return KernelPaths.paths().stream().<Experiment>map(PathExperiment::new).collect(Collectors.toList());
    }

    private static final class PathExperiment extends PkeyExperiments.PkeyExperiment {
        private final KernelPaths.KernelPath path;

        PathExperiment(KernelPaths.KernelPath path) {
            super(PREFIX + path.id(), path.call() + " under no-access and no-write",
                    KernelPaths.RIGHTS.stream().map(r -> r + ": " + path.expected(r)).collect(Collectors.joining("; "))
                            + " (" + path.access().words() + ")");
            this.path = path;
        }

        @Override
        ExperimentResult observe() {
            List<KernelPaths.Row> rows = KernelPaths.run(List.of(path));
            boolean ok = rows.stream().allMatch(KernelPaths.Row::asExpected);
            String observed = rows.stream().map(r -> r.rights() + ": " + r.observed()).collect(Collectors.joining("; "));
            String detail = rows.stream().map(r -> r.rights() + ": " + r.detail()).collect(Collectors.joining("; "));
            return ExperimentResult.of(this, ok, observed, detail);
        }
    }
}
