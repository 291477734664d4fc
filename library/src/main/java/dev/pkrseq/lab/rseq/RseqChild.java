package dev.pkrseq.lab.rseq;

import dev.pkrseq.lab.ChildReport;
import dev.pkrseq.lab.Outcome;
import java.util.List;
import java.util.Map;

import dev.pkrseq.rseq.Rseq;
import dev.pkrseq.rseq.RseqRegistry;
import dev.pkrseq.sys.ThreadCalls;

/**
 * The main class of the child JVM that runs the rseq scenarios needing pkrseq's own registration. The
 * parent starts it with {@code GLIBC_TUNABLES=glibc.pthread.rseq=0}, so that glibc registers no thread.
 *
 * <p>For each scenario named on the command line it prints {@code <scenario>.ok=true|false},
 * {@code .observed=}, {@code .detail=} and one line per fact, or {@code <scenario>.skip=<reason>}; then
 * {@code registered.after=<n>}, the areas left registered (0 unless something leaked).
 */
public final class RseqChild {
    /** Scenario names, in the order the probe reports them. */
    static final List<String> PROBE_SCENARIOS = List.of("own-registration", "same-area-ebusy", "wrong-signature-eperm",
            "unregister", "mm-cid-dense", "follows-affinity");

    private RseqChild() {
    }

    /**
     * Runs scenarios by name.
     *
     * @param args scenario names; none means {@link #PROBE_SCENARIOS}
     */
    public static void main(String[] args) {
        List<String> names = args.length == 0 ? PROBE_SCENARIOS : List.of(args);
        String setup = Rseq.availability().reason();
        if (setup != null) {
            setup = "in the child JVM: " + setup;
        } else if (Rseq.owner() != dev.pkrseq.rseq.Owner.NONE) {
            setup = "glibc registered this child's threads although GLIBC_TUNABLES=" + System.getenv("GLIBC_TUNABLES")
                    + " asks it not to";
        }
        ChildReport.put("child.owner", Rseq.owner());
        ChildReport.put("child.glibcSize", Rseq.glibcSize());
        for (String name : names) {
            if (setup != null) {
                print(name, RseqScenarios.Finding.skip(setup));
                continue;
            }
            RseqScenarios.Finding f;
            try {
                f = run(name);
            } catch (Exception | Error e) {
                f = RseqScenarios.Finding.of(false, "failed: " + e, "");
            }
            print(name, f);
        }
        ChildReport.put("registered.after", RseqRegistry.registeredCount());
        System.out.flush();
    }

    static RseqScenarios.Finding run(String name) throws InterruptedException {
        return switch (name) {
            case "own-registration" -> RseqScenarios.ownRegistration();
            case "same-area-ebusy" -> RseqScenarios.sameAreaEbusy();
            case "wrong-signature-eperm" -> RseqScenarios.wrongSignatureEperm();
            case "unregister" -> RseqScenarios.unregister();
            case "mm-cid-dense" -> RseqScenarios.mmCidDense(ThreadCalls.onlineCpus() + 1);
            case "follows-affinity" -> RseqScenarios.followsAffinity();
            case "cpu-matches-getcpu" -> RseqScenarios.cpuMatchesGetcpu();
            case "errors" -> RseqScenarios.errors();
            default -> throw new IllegalArgumentException("unknown scenario " + name);
        };
    }

    private static void print(String name, RseqScenarios.Finding f) {
        if (f.outcome() == Outcome.SKIPPED) {
            ChildReport.put(name + ".skip", f.observed());
            return;
        }
        ChildReport.put(name + ".outcome", f.outcome());
        ChildReport.put(name + ".observed", f.observed());
        ChildReport.put(name + ".detail", f.detail());
        for (Map.Entry<String, String> e : f.facts().entrySet()) {
            ChildReport.put(name + "." + e.getKey(), e.getValue());
        }
    }

}
