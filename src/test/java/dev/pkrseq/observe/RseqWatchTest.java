package dev.pkrseq.observe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import dev.pkrseq.rseq.Owner;
import dev.pkrseq.rseq.RseqRegistry;
import dev.pkrseq.sys.Sys;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Test;

/** The watch engine: workers share their areas, the watcher samples them, close stops everything. */
class RseqWatchTest {

    @Test
    void sampleGivesEachWorkersTidAndAValidCpu() {
        Features.assumeRseq();
        try (RseqWatch w = RseqWatch.start(3, RseqWatch.Workload.SLEEP)) {
            List<RseqWatch.ThreadSample> s = w.sample();
            assertEquals(3, s.size());
            assertEquals(3, s.stream().mapToInt(RseqWatch.ThreadSample::tid).distinct().count());
            for (RseqWatch.ThreadSample t : s) {
                assertTrue(t.cpuId() >= 0 && t.cpuId() < Sys.onlineCpus(), "cpu " + t.cpuId());
                assertNull(t.ended());
                assertEquals(Owner.GLIBC, t.owner());
                assertNull(t.mmCid(), "glibc's area does not cover mm_cid");
                assertEquals(1, t.samples());
                assertEquals(1L, t.cpuSamples().get(t.cpuId()));
            }
        }
    }

    @Test
    void samplesCountPerCpuAndMigrationsNeverExceedSamplesMinusOne() throws Exception {
        Features.assumeRseq();
        try (RseqWatch w = RseqWatch.start(2, RseqWatch.Workload.YIELD)) {
            List<RseqWatch.ThreadSample> last = null;
            for (int i = 0; i < 20; i++) {
                last = w.sample();
                Thread.sleep(2);
            }
            for (RseqWatch.ThreadSample t : last) {
                assertEquals(20, t.samples());
                assertEquals(20L, t.cpuSamples().values().stream().mapToLong(Long::longValue).sum());
                assertTrue(t.migrations() <= 19);
                assertTrue(t.migrations() >= t.cpuSamples().size() - 1, t.toString());
            }
        }
    }

    @Test
    void closeStopsTheWorkersAndLeavesNothingRegistered() {
        Features.assumeRseq();
        RseqWatch w = RseqWatch.start(2, RseqWatch.Workload.SPIN);
        w.close();
        assertThrows(IllegalStateException.class, w::sample);
        assertFalse(Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().startsWith("pkrseq-watch-")));
        assertEquals(0, RseqRegistry.registeredCount());
    }

    @Test
    void quiescedSpinnersSleepAndStillStopAndSample() throws Exception {
        Features.assumeRseq();
        RseqWatch w = RseqWatch.start(4, RseqWatch.Workload.SPIN);
        try {
            w.quiesce();
            List<RseqWatch.ThreadSample> s = w.sample();
            long deadline = System.nanoTime() + 5_000_000_000L;
            for (RseqWatch.ThreadSample t : s) {
                String stat;
                do {
                    stat = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/self/task/" + t.tid() + "/stat"));
                } while (stat.charAt(stat.lastIndexOf(')') + 2) != 'S' && System.nanoTime() < deadline);
                assertEquals('S', stat.charAt(stat.lastIndexOf(')') + 2), "asleep in the kernel: " + stat);
                assertNull(t.ended());
            }
        } finally {
            w.close();
        }
        assertFalse(Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().startsWith("pkrseq-watch-")));
    }

    @Test
    void threadCountsOutsideOneToMaxThreadsAreRefusedNamingTheLimit() {
        for (int n : new int[] {0, -1, RseqWatch.maxThreads() + 1, Integer.MAX_VALUE}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> RseqWatch.start(n, RseqWatch.Workload.SPIN));
            assertEquals("threads must be 1 to " + RseqWatch.maxThreads() + " here (" + RseqWatch.maxThreadsReason()
                    + "), not " + n, e.getMessage());
        }
        assertFalse(Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().startsWith("pkrseq-watch-")));
    }

    @Test
    void spinningWorkersSpinInNativeCode() throws Exception {
        Features.assumeRseq();
        // In native code a spinner holds up no safepoint: the JVM counts it as stopped.
        try (RseqWatch w = RseqWatch.start(64, RseqWatch.Workload.SPIN)) {
            for (RseqWatch.ThreadSample s : w.sample()) {
                String state = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/self/task/" + s.tid() + "/stat"));
                // Spinning or waiting for a CPU: R; in the futex before the release it would be S.
                assertEquals('R', state.charAt(state.lastIndexOf(')') + 2), state);
            }
            Thread spinner = Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.getName().equals("pkrseq-watch-0")).findFirst().orElseThrow();
            // The JVM sees a thread in native code as RUNNABLE, and its stack ends in the downcall.
            assertTrue(java.util.Arrays.stream(spinner.getStackTrace()).anyMatch(f -> f.getClassName().endsWith("NativeSpin")),
                    java.util.Arrays.toString(spinner.getStackTrace()));
        }
    }

    @Test
    void workloadNamesParseInAnyCaseAndOthersAreRefused() {
        assertEquals(RseqWatch.Workload.YIELD, RseqWatch.Workload.parse("Yield"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RseqWatch.Workload.parse("nap"));
        assertEquals("'nap' is not a workload: choose spin, yield or sleep", e.getMessage());
    }
}
