package dev.pkrseq.observe;

import java.util.List;
import java.util.Map;

import dev.pkrseq.rseq.Rseq;
import dev.pkrseq.rseq.RseqRegistry;
import dev.pkrseq.rseq.RseqSyscall;
import dev.pkrseq.sys.Sys;

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
        String setup = RseqSyscall.availability().reason();
        if (setup != null) {
            setup = "in the child JVM: " + setup;
        } else if (Rseq.owner() != dev.pkrseq.rseq.Owner.NONE) {
            setup = "glibc registered this child's threads although GLIBC_TUNABLES=" + System.getenv("GLIBC_TUNABLES")
                    + " asks it not to";
        }
        System.out.println("child.owner=" + Rseq.owner());
        System.out.println("child.glibcSize=" + Rseq.glibcSize());
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
        System.out.println("registered.after=" + RseqRegistry.registeredCount());
        System.out.flush();
    }

    static RseqScenarios.Finding run(String name) throws InterruptedException {
        return switch (name) {
            case "own-registration" -> RseqScenarios.ownRegistration();
            case "same-area-ebusy" -> RseqScenarios.sameAreaEbusy();
            case "wrong-signature-eperm" -> RseqScenarios.wrongSignatureEperm();
            case "unregister" -> RseqScenarios.unregister();
            case "mm-cid-dense" -> RseqScenarios.mmCidDense(Sys.onlineCpus() + 1);
            case "follows-affinity" -> RseqScenarios.followsAffinity();
            case "cpu-matches-getcpu" -> RseqScenarios.cpuMatchesGetcpu();
            case "errors" -> RseqScenarios.errors();
            default -> throw new IllegalArgumentException("unknown scenario " + name);
        };
    }

    private static void print(String name, RseqScenarios.Finding f) {
        if (f.ok() == null) {
            System.out.println(name + ".skip=" + oneLine(f.observed()));
            return;
        }
        System.out.println(name + ".ok=" + f.ok());
        System.out.println(name + ".observed=" + oneLine(f.observed()));
        System.out.println(name + ".detail=" + oneLine(f.detail()));
        for (Map.Entry<String, String> e : f.facts().entrySet()) {
            System.out.println(name + "." + e.getKey() + "=" + oneLine(e.getValue()));
        }
    }

    private static String oneLine(String s) {
        return s.replace('\n', ' ');
    }
}
