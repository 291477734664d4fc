package dev.pkrseq.rseq;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.OptionalLong;

import dev.pkrseq.lab.rseq.PerCpuStress;
import dev.pkrseq.sys.ThreadCalls;
import dev.pkrseq.testing.Features;
import dev.pkrseq.testing.Pinned;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The per-CPU counter on glibc's registration, in this JVM: exact sums under forced migrations, the abort
 * path, and the broken variant that shows what the test would see without rseq.
 */
class PerCpuCounterTest {
    /** Iterations of the spin injected into widened sections: about a microsecond. */
    static final int DELAY = 1000;
    // The add with a spin between the CPU check and the commit (param_test's injection point 3).
    private static RseqCode widened;

    @BeforeAll
    static void glibcRegistered() {
        Features.assumeRseq();
        widened = RseqCode.map(new RseqCode.Config(PerCpuOps.DEFAULT_STRIDE, RseqCode.possibleCpus(),
                RseqCode.usableGlibcOffset(), DelayInjection.at(3, DELAY), true));
    }

    @Test
    void counterOnAGlibcRegisteredThreadUsesGlibcsArea() {
        PerCpuCounter c = new PerCpuCounter();
        assertEquals(Owner.GLIBC, c.owner());
        assertEquals(RseqCode.possibleCpus(), c.slots());
        assertTrue(PerCpuCounter.whyUnavailable().isEmpty());
    }

    @Test
    void addsOnOneThreadSumExactly() {
        PerCpuCounter c = new PerCpuCounter();
        for (int i = 0; i < 1000; i++) {
            c.increment();
        }
        c.add(41);
        c.add(-5);
        c.add(Long.MAX_VALUE / 4);
        assertEquals(1036 + Long.MAX_VALUE / 4, c.sum());
        assertEquals(c.sum(), java.util.Arrays.stream(c.perCpu()).sum());
    }

    @Test
    void addLandsInTheSlotOfTheCpuTheThreadRunsOn() {
        PerCpuCounter c = new PerCpuCounter();
        List<Integer> cpus = ThreadCalls.schedGetaffinity(0).stream().boxed().toList();
        for (int cpu : cpus) {
            try (Pinned _ = Pinned.to(cpu)) {
                c.add(cpu + 1);
            }
        }
        long[] expected = new long[c.slots()];
        for (int cpu : cpus) {
            expected[cpu] = cpu + 1;
        }
        assertArrayEquals(expected, c.perCpu());
    }

    @Test
    void sumIsExactOverTenMillionAddsFromTwoThreadsWithForcedMigrations() throws InterruptedException {
        PerCpuCounter c = new PerCpuCounter();
        PerCpuStress.Result r = PerCpuStress.run(PerCpuStress.of(c), 2, 5_000_000, true);
        assertEquals(10_000_000, r.expected());
        assertEquals(r.expected(), r.sum(), r.toString());
        assertEquals(r.expected(), c.sum());
        assertMigrationsForced(r);
    }

    @Test
    void sumIsExactOverTenMillionAddsFromFourThreadsPerCpuWithForcedMigrations() throws InterruptedException {
        int threads = 4 * ThreadCalls.onlineCpus();
        PerCpuCounter c = new PerCpuCounter();
        PerCpuStress.Result r = PerCpuStress.run(PerCpuStress.of(c), threads, 10_000_000 / threads + 1, true);
        assertTrue(r.expected() >= 10_000_000);
        assertEquals(r.expected(), r.sum(), r.toString());
        assertMigrationsForced(r);
    }

    @Test
    void abortPathRunsAndSumStaysExactWhenPreemptionHitsWidenedSections() throws InterruptedException {
        PerCpuCounter c = new PerCpuCounter(PerCpuOps.over(PerCpuOps.Index.CPU_ID, widened, Owner.GLIBC));
        PerCpuStress.Result r = PerCpuStress.run(PerCpuStress.of(c), 4 * ThreadCalls.onlineCpus(), 20_000, true);
        assertEquals(r.expected(), r.sum(), r.toString());
        assertTrue(r.restarts() > 0, "no restart although the sections were preempted: " + r);
        assertEquals(r.restarts(), c.restarts());
    }

    @Test
    void plainReadModifyWriteWithoutRseqLosesUpdatesUnderTheSameDisturbance() throws InterruptedException {
        try (RacyPerCpuAdd racy = new RacyPerCpuAdd(RseqCode.usableGlibcOffset().getAsLong(), RseqCode.possibleCpus(),
                DELAY)) {
            PerCpuStress.Result r = PerCpuStress.run(racy, 4 * ThreadCalls.onlineCpus(), 20_000, true);
            assertTrue(r.sum() < r.expected(), "the racy variant lost nothing, so the exact-sum tests prove nothing: " + r);
        }
    }

    @Test
    void areaVariantSumsExactlyWithTheAreaPassedIn() throws InterruptedException {
        // In this JVM the area passed in is glibc's; the child JVM test runs it on pkrseq's own.
        PerCpuCounter c = new PerCpuCounter(PerCpuOps.over(PerCpuOps.Index.CPU_ID, widened, Owner.PKRSEQ));
        PerCpuStress.Result r = PerCpuStress.run(PerCpuStress.of(c), 2 * ThreadCalls.onlineCpus(), 20_000, true);
        assertEquals(r.expected(), r.sum(), r.toString());
        assertTrue(r.restarts() > 0, r.toString());
        assertEquals(0, RseqRegistry.registeredCount(), "glibc's areas must be used, not pkrseq's");
    }

    @Test
    void virtualThreadsAddThroughTheirCarriersArea() throws InterruptedException {
        PerCpuCounter c = new PerCpuCounter();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
            threads.add(Thread.ofVirtual().start(() -> {
                for (int k = 0; k < 10_000; k++) {
                    c.increment();
                    if (k % 1000 == 0) {
                        Thread.yield();
                    }
                }
            }));
        }
        for (Thread t : threads) {
            t.join();
        }
        assertEquals(640_000, c.sum());
    }

    @Test
    void cpuWithoutASlotIsRefusedAndNothingIsWritten() {
        BitSet original = ThreadCalls.schedGetaffinity(0);
        assumeTrue(original.cardinality() >= 2 && original.nextSetBit(1) >= 1, "needs CPU 1");
        RseqCode oneSlot = RseqCode.map(new RseqCode.Config(PerCpuOps.DEFAULT_STRIDE, 1, RseqCode.usableGlibcOffset(),
                DelayInjection.NONE, true));
        PerCpuCounter c = new PerCpuCounter(PerCpuOps.over(PerCpuOps.Index.CPU_ID, oneSlot, Owner.GLIBC));
        try (Pinned _ = Pinned.to(original.nextSetBit(1))) {
            IllegalStateException e = assertThrows(IllegalStateException.class, c::increment);
            assertTrue(e.getMessage().contains("has no slot: the code has 1"), e.getMessage());
        }
        assertEquals(0, c.sum());
    }

    @Test
    void resetZeroesEverySlotAndTheRestarts() throws InterruptedException {
        PerCpuCounter c = new PerCpuCounter(PerCpuOps.over(PerCpuOps.Index.CPU_ID, widened, Owner.GLIBC));
        PerCpuStress.run(PerCpuStress.of(c), 2 * ThreadCalls.onlineCpus(), 10_000, true);
        c.reset();
        assertEquals(0, c.sum());
        assertArrayEquals(new long[c.slots()], c.perCpu());
        assertEquals(0, c.restarts());
        c.add(7);
        assertEquals(7, c.sum());
    }

    @Test
    void afterAnAddRseqCsPointsAtTheDescriptorOrTheKernelClearedIt() {
        PerCpuCounter c = new PerCpuCounter();
        c.increment();
        RseqCode shared = RseqCode.Shared.CODE;
        long cs = Rseq.current().orElseThrow().rseqCs();
        assertTrue(cs == 0 || cs == shared.base() + shared.offset("add_tp_cpu_cs"), "rseq_cs 0x" + Long.toHexString(cs));
    }

    @Test
    void glibcVariantIsLeftOutWhereGlibcExportsNoOffset() {
        RseqCode.Config noOffset = new RseqCode.Config(PerCpuOps.DEFAULT_STRIDE, 2, OptionalLong.empty(),
                DelayInjection.NONE, true);
        RseqCode c = RseqCode.generate(0x10000, noOffset);
        assertThrows(IllegalArgumentException.class, () -> c.offset("add_tp_cpu"));
        assertEquals(0, c.offset("cas_area_cpu_cs"));
        assertThrows(IllegalStateException.class, () -> PerCpuOps.over(PerCpuOps.Index.CPU_ID, RseqCode.map(noOffset),
                Owner.GLIBC));
    }

    private static void assertMigrationsForced(PerCpuStress.Result r) {
        assertTrue(r.disturbed());
        if (r.cpus().size() > 1) {
            assertTrue(r.affinityChanges() > 0, "the disturber moved nothing: " + r);
        }
    }
}
