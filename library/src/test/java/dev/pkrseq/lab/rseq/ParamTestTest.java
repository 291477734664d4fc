package dev.pkrseq.lab.rseq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import dev.pkrseq.lab.ChildJvm;
import dev.pkrseq.rseq.DelayInjection;
import dev.pkrseq.rseq.PerCpuOps;
import dev.pkrseq.rseq.RacyOps;
import dev.pkrseq.sys.ThreadCalls;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The param test, as run_param_test.sh runs it: every type at 6 × the online CPUs threads, with delays
 * injected inside the sections, yields and signals, indexed by cpu_id here and by mm_cid in a child JVM
 * under pkrseq's own registration; every check exact. And the broken twins: the same runs on code whose
 * sections are never armed lose updates, so the checks can see the failure they guard against.
 */
class ParamTestTest {
    static final int THREADS = 6 * Math.max(1, ThreadCalls.onlineCpus());
    // Inside every section (point 3), and before every section every second time: a yield and a signal.
    static final List<String> STRESS = List.of("-t", Integer.toString(THREADS), "-r", "400", "-3", "10000", "-9", "-1",
            "-m", "2", "-y", "-k");

    @BeforeAll
    static void rseq() {
        Features.assumeRseq();
    }

    static ParamTest.Options options(ParamTest.Type t, List<String> rest) {
        List<String> a = new java.util.ArrayList<>(List.of("-T", t.toString()));
        a.addAll(rest);
        return ParamTest.Options.parse(a);
    }

    @ParameterizedTest
    @EnumSource(ParamTest.Type.class)
    void typeIsExactAtSixThreadsPerCpuWithDelaysYieldsAndSignalsIndexedByCpuId(ParamTest.Type t) throws Exception {
        ParamTest.Result r = ParamTest.run(options(t, STRESS));
        assertTrue(r.exact(), r.toString());
        assertEquals("cpu_id", r.index());
        assertEquals(THREADS, r.threads());
        assertTrue(r.yields() > 0 && r.signals() > 0, r.toString());
        assertEquals("this JVM", r.where());
        if (t == ParamTest.Type.MEMBARRIER) {
            assertTrue(r.fences() > 0, r.toString());
        }
    }

    @Test
    void everyTypeIsExactIndexedByMmCidUnderPkrseqsOwnRegistration() {
        Features.assumeMmCid();
        ChildJvm.Result child = ChildJvm.of(ParamTestOwnChild.class)
                .env("GLIBC_TUNABLES", RseqExperiments.tunablesWithGlibcRseqOff())
                .timeout(java.time.Duration.ofMinutes(5)).args(mmCid(STRESS).toArray(String[]::new)).run();
        assertEquals(0, child.exitCode(), child.stderr() + child.stdout());
        for (ParamTest.Type t : ParamTest.Type.values()) {
            assertTrue(child.values(t + ".failed=").isEmpty(), child.stdout());
            assertEquals("mm_cid", child.value(t + ".paramtest.index="), child.stdout());
            assertEquals("pkrseq", child.value(t + ".paramtest.owner="), child.stdout());
            assertEquals("true", child.value(t + ".paramtest.exact="), t + ": " + child.stdout());
            assertFalse(child.values(t + ".paramtest.check=").isEmpty());
        }
    }

    static List<String> mmCid(List<String> args) {
        List<String> a = new java.util.ArrayList<>(args);
        a.add("--mm-cid");
        return a;
    }

    @Test
    void mmCidRunsInAChildJvmWhereGlibcsRegistrationDoesNotCoverIt() throws Exception {
        Features.assumeMmCid();
        ParamTest.Result r = ParamTest.run(options(ParamTest.Type.INCREMENT, List.of("-t", "2", "-r", "1000", "--mm-cid")));
        assertTrue(r.exact(), r.toString());
        assertEquals("mm_cid", r.index());
        assertEquals("pkrseq", r.owner());
        assertTrue(r.where().startsWith("a child JVM with GLIBC_TUNABLES="), r.where());
    }

    @Test
    void longInjectedDelaysMakeTheKernelAbortSectionsAndTheResultStaysExact() throws Exception {
        // 100 µs inside each section: a tick or a wake-up lands in some, and the kernel aborts them.
        ParamTest.Result r = ParamTest.run(options(ParamTest.Type.LIST, List.of("-t", Integer.toString(THREADS), "-r",
                "300", "-4", "100000")));
        assertTrue(r.exact(), r.toString());
        assertTrue(r.restarts() > 0, "no section was aborted: " + r);
    }

    @Test
    void checksReportWhatTheyCompared() throws Exception {
        ParamTest.Result r = ParamTest.run(options(ParamTest.Type.SPINLOCK, List.of("-t", "2", "-r", "100")));
        assertEquals(List.of("sum of the per-CPU counts", "locks still held", "unlocks of a lock not held"),
                r.checks().stream().map(ParamTest.Check::name).toList());
        assertEquals(200, r.checks().get(0).expected());
        assertEquals("none", r.delays());
    }

    // ---- The broken twins -------------------------------------------------------------------------

    /** The same run on code without rseq: the kernel never aborts a section. */
    static ParamTest.Result racy(ParamTest.Type t, List<String> rest) throws Exception {
        ParamTest.Options o = options(t, rest);
        ParamTest.Injector injector = new ParamTest.Injector(o);
        PerCpuOps racy = RacyOps.of(PerCpuOps.Index.CPU_ID, o.asmDelays(), injector);
        return ParamTest.runWith(o, racy, injector, true);
    }

    /**
     * Runs the racy twin up to three times and returns the first inexact result: the failure depends on
     * preemptions landing in the widened windows, which a run usually but not always gets.
     */
    static ParamTest.Result inexactTwin(ParamTest.Type t, List<String> rest) throws Exception {
        List<ParamTest.Result> runs = new java.util.ArrayList<>();
        for (int i = 0; i < 3; i++) {
            ParamTest.Result r = racy(t, rest);
            assertEquals(0, r.restarts(), "code without rseq_cs is never aborted");
            if (!r.exact()) {
                return r;
            }
            runs.add(r);
        }
        throw new AssertionError("the racy twin lost nothing in three runs, so the exact runs prove nothing: " + runs);
    }

    @ParameterizedTest
    @EnumSource(value = ParamTest.Type.class, names = {"LIST", "BUFFER", "MEMCPY"})
    void withoutRseqTheSameStressLosesUpdates(ParamTest.Type t) throws Exception {
        // The window between the comparison and the commit widened (point 4) so that time-slice preemptions land in
        // it. No yields: a thread that yields often never runs out its slice, so it is rarely preempted at all.
        ParamTest.Result r = inexactTwin(t, twinStress(t));
        assertTrue(r.checks().get(0).actual() != r.checks().get(0).expected() || r.checks().get(1).actual()
                != r.checks().get(1).expected(), r.toString());
    }

    /** The stress each twin runs under, by type. */
    static List<String> twinStress(ParamTest.Type t) {
        return switch (t) {
            case SPINLOCK -> List.of("-t", Integer.toString(THREADS), "-r", "40000", "-4", "1000");
            case MEMBARRIER -> List.of("-t", Integer.toString(THREADS), "-r", "2000", "-5", "20000");
            default -> List.of("-t", Integer.toString(THREADS), "-r", "2000", "-4", "20000");
        };
    }

    @ParameterizedTest
    @EnumSource(value = ParamTest.Type.class, names = {"SPINLOCK", "LIST", "BUFFER", "MEMCPY"})
    void withRseqTheStressTheTwinsFailUnderIsExact(ParamTest.Type t) throws Exception {
        ParamTest.Result r = ParamTest.run(options(t, twinStress(t)));
        assertTrue(r.exact(), r.toString());
    }

    @Test
    void withoutRseqTheSpinlockIsHeldTwiceAndLosesCounts() throws Exception {
        // A lock is taken twice when a thread preempted between its comparison and its store resumes while another
        // holds the lock: short windows, many of them, so that held stretches are a good part of each loop.
        ParamTest.Result r = inexactTwin(ParamTest.Type.SPINLOCK, twinStress(ParamTest.Type.SPINLOCK));
        assertTrue(r.checks().stream().anyMatch(c -> !c.held()), r.toString());
    }

    @Test
    void withoutRseqTheMembarrierTestSeesTheInactiveListChange() throws Exception {
        // A worker preempted between its load of the active pointer and its commit is not aborted without rseq:
        // it commits into the list the manager already fenced and made inactive.
        ParamTest.Result r = inexactTwin(ParamTest.Type.MEMBARRIER, twinStress(ParamTest.Type.MEMBARRIER));
        assertTrue(r.checks().get(1).actual() > 0, r.toString());
    }

    @Test
    @Tag("stress")
    void withoutTheFenceTheMembarrierTestSeesTheInactiveListChange() throws Exception {
        // rseq intact, no fence: a worker running on another CPU inside its window is not interrupted, and commits
        // into the list the manager made inactive. With the fence, the same run is exact (the test below). This needs
        // the manager and a worker to run at the same moment on two CPUs, which a busy host may not grant for a whole
        // run (its vCPUs then take turns): up to five runs, one that sees a change is enough.
        ParamTest.Options o = options(ParamTest.Type.MEMBARRIER, List.of("-t", Integer.toString(THREADS), "-r", "4000", "-5",
                "20000"));
        List<ParamTest.Result> runs = new java.util.ArrayList<>();
        for (int i = 0; i < 5; i++) {
            ParamTest.Injector injector = new ParamTest.Injector(o);
            PerCpuOps ops = PerCpuOps.of(PerCpuOps.Index.CPU_ID, PerCpuOps.DEFAULT_STRIDE, o.asmDelays(), injector);
            ParamTest.Result r = ParamTest.runWith(o, ops, injector, false);
            assertEquals(0, r.fences());
            runs.add(r);
            if (!r.exact()) {
                return;
            }
        }
        throw new AssertionError("without the fence nothing changed in five runs: " + runs);
    }

    @Test
    void withTheFenceTheMembarrierTestIsExactWithTheSameWideWindow() throws Exception {
        ParamTest.Result r = ParamTest.run(options(ParamTest.Type.MEMBARRIER, twinStress(ParamTest.Type.MEMBARRIER)));
        assertTrue(r.exact(), r.toString());
        assertTrue(r.fences() > 0, r.toString());
    }

    @Test
    @Tag("stress")
    void everyTypeIsExactUnderEveryInjectionPointAndYieldKillAndSleepAsRunParamTestDoes() throws Exception {
        for (ParamTest.Type t : ParamTest.Type.values()) {
            for (int p = 1; p <= 9; p++) {
                ParamTest.Result r = ParamTest.run(options(t, List.of("-t", Integer.toString(THREADS), "-r", "1000", "-" + p,
                        "10000")));
                assertTrue(r.exact(), "-" + p + " 10000: " + r);
            }
            for (String action : List.of("-y", "-k")) {
                for (String m : List.of("4", "2", "1")) {
                    ParamTest.Result r = ParamTest.run(options(t, List.of("-t", Integer.toString(THREADS), "-r", "1000",
                            "-9", "-1", "-m", m, action)));
                    assertTrue(r.exact(), "-9 -1 -m " + m + " " + action + ": " + r);
                }
            }
            ParamTest.Result r = ParamTest.run(options(t, List.of("-t", Integer.toString(THREADS), "-r", "100", "-9", "-1",
                    "-m", "4", "-s", "1")));
            assertTrue(r.exact(), "-s 1: " + r);
        }
    }

    @Test
    @Tag("stress")
    void everyTypeIsExactAtAHundredThousandRepsWithDelaysInBothIndexModes() throws Exception {
        for (ParamTest.Type t : ParamTest.Type.values()) {
            for (boolean mmCid : new boolean[] {false, true}) {
                if (mmCid && !Features.kernelHasMmCid()) {
                    continue;
                }
                List<String> a = new java.util.ArrayList<>(List.of("-t", Integer.toString(THREADS), "-r", "100000", "-3",
                        "1000"));
                if (mmCid) {
                    a.add("--mm-cid");
                }
                ParamTest.Result r = ParamTest.run(options(t, a));
                assertTrue(r.exact(), r.toString());
            }
        }
    }

    @Test
    void delaysBeyondTheCompiledPointsAreRefused() {
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> options(ParamTest.Type.LIST, List.of("-3", "-1")));
        assertTrue(e.getMessage().contains("-3 must be 0 or more"), e.getMessage());
        assertEquals(DelayInjection.NONE, options(ParamTest.Type.LIST, List.of("-9", "-1")).asmDelays());
    }
}
