package dev.pkrseq.lab.rseq;

import dev.pkrseq.lab.Outcome;
import dev.pkrseq.lab.ChildJvm;
import dev.pkrseq.lab.ChildReport;
import dev.pkrseq.lab.DescribedExperiment;
import dev.pkrseq.lab.Experiment;
import dev.pkrseq.lab.ExperimentResult;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import dev.pkrseq.rseq.Rseq;
import dev.pkrseq.sys.Syscall;

/**
 * The rseq experiments of {@code pkrseq probe}, in report order.
 *
 * <p>Three run in the probe's own JVM on the calling thread, on whatever registration it has (glibc's
 * normally; pkrseq's own, registered and undone around the experiment, where glibc registered nothing).
 * The others need pkrseq's own registration, which the kernel refuses beside glibc's, so they run in
 * one child JVM started with {@code GLIBC_TUNABLES=glibc.pthread.rseq=0} ({@link RseqChild}); they are
 * skipped where no such child can run. The child runs once per {@link #all()} list, for all of them.
 */
public final class RseqExperiments {
    /** The tunable that stops glibc from registering rseq for its threads. */
    public static final String TUNABLE = "glibc.pthread.rseq=0";

    /**
     * The {@code GLIBC_TUNABLES} value for a child process that must run without glibc's rseq registration:
     * this process's tunables, if any, with {@link #TUNABLE} appended after a {@code ':'}.
     *
     * @return {@link #TUNABLE} alone when this process has no {@code GLIBC_TUNABLES} or an empty one,
     *     otherwise {@code <this process's tunables>:glibc.pthread.rseq=0}
     */
    public static String tunablesWithGlibcRseqOff() {
        String tunables = System.getenv("GLIBC_TUNABLES");
        return tunables == null || tunables.isEmpty() ? TUNABLE : tunables + ":" + TUNABLE;
    }

    private RseqExperiments() {
    }

    /**
     * The rseq experiments, sharing one child JVM run.
     *
     * @return a new list, in report order
     */
    public static List<Experiment> all() {
        ChildRun child = new ChildRun();
        return List.of(
                new InProcess("rseq.cpu-matches-getcpu",
                        "read cpu_id from the thread's struct rseq and compare it with sched_getcpu",
                        "the cpu_id load equals sched_getcpu (and the getcpu system call) read back to back;"
                                + " cpu_id_start equals cpu_id",
                        RseqScenarios::cpuMatchesGetcpu),
                new FollowsAffinity(child),
                new InProcess("rseq.register-beside-glibc-einval",
                        "register a second struct rseq on a thread glibc registered",
                        "EINVAL: this thread is already registered (by glibc)",
                        RseqScenarios::registerBesideGlibc),
                new InChild(child, "rseq.same-area-ebusy", "same-area-ebusy",
                        "register pkrseq's area, then the same area, length and signature again",
                        "EBUSY, and the registration stays"),
                new InChild(child, "rseq.wrong-signature-eperm", "wrong-signature-eperm",
                        "unregister pkrseq's area with a signature other than the registered one",
                        "EPERM, and the area stays registered"),
                new InChild(child, "rseq.unregister", "unregister",
                        "unregister pkrseq's area with RSEQ_FLAG_UNREGISTER",
                        "success: the kernel resets cpu_id to -1, the owner is none, the pool takes the area back;"
                                + " a second unregister gives EINVAL"),
                new InChild(child, "rseq.own-registration", "own-registration",
                        "register the thread with pkrseq's own area where glibc did not, then unregister",
                        "owner none before; pkrseq with a valid cpu_id and mm_cid (Linux 6.3+) while registered;"
                                + " none after"),
                new InChild(child, "rseq.mm-cid-dense", "mm-cid-dense",
                        "run CPUs+1 busy threads at once, each reading its mm_cid and cpu_id",
                        "every mm_cid is below min(threads, CPUs), while cpu_id can be any CPU"));
    }

    /** An rseq experiment whose result is a scenario's finding, skipped where the finding could not be made. */
    private abstract static class Base extends DescribedExperiment {
        Base(String id, String title, String expected) {
            super(id, title, expected);
        }

        ExperimentResult result(RseqScenarios.Finding f) {
            if (f.outcome() == Outcome.SKIPPED) {
                return ExperimentResult.skipped(this, f.observed());
            }
            return ExperimentResult.of(this, f.outcome() == Outcome.AS_EXPECTED, f.observed(), f.detail());
        }

        static String inProcessUnavailable() {
            if (!Syscall.architectureSupported()) {
                return Syscall.architecture() + " is not supported";
            }
            return Rseq.availability().reason();
        }
    }

    private static final class InProcess extends Base {
        private final Callable<RseqScenarios.Finding> scenario;

        InProcess(String id, String title, String expected, Callable<RseqScenarios.Finding> scenario) {
            super(id, title, expected);
            this.scenario = scenario;
        }

        @Override
        public ExperimentResult run() throws Exception {
            String missing = inProcessUnavailable();
            return missing != null ? ExperimentResult.skipped(this, missing) : result(scenario.call());
        }
    }

    private static final class InChild extends Base {
        private final ChildRun child;
        private final String scenario;

        InChild(ChildRun child, String id, String scenario, String title, String expected) {
            super(id, title, expected);
            this.child = child;
            this.scenario = scenario;
        }

        @Override
        public ExperimentResult run() {
            return result(child.finding(scenario));
        }
    }

    /** In-process for cpu_id and cpu_id_start; node_id in the child when glibc's area does not cover it. */
    private static final class FollowsAffinity extends Base {
        private final ChildRun child;

        FollowsAffinity(ChildRun child) {
            super("rseq.follows-affinity",
                    "pin the thread to each allowed CPU in turn with sched_setaffinity, as basic_test.c does",
                    "cpu_id and cpu_id_start follow each CPU, and node_id matches the getcpu system call's node;"
                            + " the original mask is restored");
            this.child = child;
        }

        @Override
        public ExperimentResult run() {
            String missing = inProcessUnavailable();
            if (missing != null) {
                return ExperimentResult.skipped(this, missing);
            }
            RseqScenarios.Finding here = RseqScenarios.followsAffinity();
            if (here.outcome() == Outcome.SKIPPED || Boolean.parseBoolean(here.facts().get("nodeCovered"))) {
                return result(here);
            }
            RseqScenarios.Finding there = child.finding("follows-affinity");
            boolean hereOk = here.outcome() == Outcome.AS_EXPECTED;
            if (there.outcome() == Outcome.SKIPPED) {
                return ExperimentResult.of(this, hereOk, here.observed() + "; node_id not checked: " + there.observed(),
                        here.detail());
            }
            return ExperimentResult.of(this, hereOk && there.outcome() == Outcome.AS_EXPECTED, here.observed()
                    + "; in a child JVM under pkrseq's own registration: " + there.observed(),
                    here.detail() + "; child: " + there.detail());
        }
    }

    /** One child JVM run for every scenario that needs pkrseq's own registration, made on first use. */
    static final class ChildRun {
        private ChildJvm.Result result;
        private String failure;

        synchronized RseqScenarios.Finding finding(String scenario) {
            if (result == null && failure == null) {
                try {
                    result = start(RseqChild.PROBE_SCENARIOS.toArray(String[]::new)).run();
                } catch (ChildJvm.ChildJvmException e) {
                    failure = e.getMessage();
                }
            }
            if (failure != null) {
                return RseqScenarios.Finding.skip("no child JVM with " + TUNABLE + " can run here: " + failure);
            }
            return parse(result, scenario);
        }
    }

    /**
     * A child JVM that runs {@link RseqChild} with glibc's rseq registration off; other tunables in this
     * process's {@code GLIBC_TUNABLES} are kept.
     *
     * @param scenarios the scenario names to run
     * @return the child, ready to run
     */
    public static ChildJvm start(String... scenarios) {
        return ChildJvm.of(RseqChild.class)
                .env("GLIBC_TUNABLES", tunablesWithGlibcRseqOff())
                .timeout(Duration.ofSeconds(60))
                .args(scenarios);
    }

    /** Reads one scenario's lines back from a child's output. */
    static RseqScenarios.Finding parse(ChildJvm.Result r, String scenario) {
        ChildReport report = r.report();
        Map<String, String> facts = new LinkedHashMap<>(report.under(scenario + "."));
        if (facts.containsKey("skip")) {
            return RseqScenarios.Finding.skip(facts.get("skip"));
        }
        if (!facts.containsKey("outcome")) {
            String why = r.stderr().isBlank() ? r.stdout().strip() : r.stderr().strip();
            return RseqScenarios.Finding.of(false, "the child JVM reported nothing for " + scenario + " (exit "
                    + r.exitCode() + ")", why.length() > 2000 ? why.substring(0, 2000) : why);
        }
        String left = report.first("registered.after").orElse("?");
        boolean ok = Outcome.AS_EXPECTED.toString().equals(facts.remove("outcome"));
        String observed = facts.remove("observed");
        String detail = facts.remove("detail");
        if (!left.equals("0")) {
            ok = false;
            detail = detail + "; the child left " + left + " areas registered";
        }
        return RseqScenarios.Finding.of(ok, observed, detail, facts);
    }
}
