package dev.pkrseq.rseq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.BitSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

import dev.pkrseq.lab.ChildJvm;
import dev.pkrseq.Errno;
import dev.pkrseq.sys.ThreadCalls;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The rseq fence: registration, one CPU and all, the errors by name, and the abort it causes. */
class RseqFenceTest {
    @BeforeAll
    static void fenceSupported() {
        Features.assumeRseq();
        assumeTrue(RseqFence.supported(), "this kernel has no MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ (Linux 5.10+)");
    }

    @Test
    void registrationIsIdempotentAndTheKernelReportsIt() {
        RseqFence.register();
        RseqFence.register();
        assertTrue(RseqFence.registered());
    }

    @Test
    void fenceOfOneCpuAndOfEveryCpuReturnOnceRegistered() {
        RseqFence.ensureRegistered();
        for (int cpu = 0; cpu < RseqCode.possibleCpus(); cpu++) {
            RseqFence.fence(cpu);
        }
        RseqFence.fenceAll();
    }

    @Test
    void cpuThatDoesNotExistIsRefusedAsEnxioBeforeTheCall() {
        RseqFence.ensureRegistered();
        int possible = RseqCode.possibleCpus();
        RseqFenceException e = assertThrows(RseqFenceException.class, () -> RseqFence.fence(possible));
        assertEquals(Errno.ENXIO, e.errno());
        assertTrue(e.getMessage().startsWith("membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, MEMBARRIER_CMD_FLAG_CPU, "
                + possible + ") refused: ENXIO"), e.getMessage());
        e = assertThrows(RseqFenceException.class, () -> RseqFence.fence(-1));
        assertEquals(Errno.ENXIO, e.errno());
        assertTrue(e.explanation().contains("every CPU for a negative one"), e.explanation());
    }

    @Test
    void processThatHasNotRegisteredIsRefusedWithEpermNamed() {
        ChildJvm.Result child = ChildJvm.of(RseqFenceChild.class).run();
        assertEquals(0, child.exitCode(), child.stderr() + child.stdout());
        assertEquals("false", child.value("registeredBefore="));
        String refused = child.value("unregistered=");
        assertTrue(refused.startsWith("EPERM: this process has not registered for the rseq fence"), refused);
        assertEquals("true", child.value("registeredAfter="));
        assertEquals("true", child.value("fenced="));
    }

    @Test
    void fenceOfTheCpuASectionRunsOnAbortsThatSection() throws Exception {
        BitSet cpus = ThreadCalls.schedGetaffinity(0);
        assumeTrue(cpus.cardinality() >= 2, "needs two CPUs");
        int target = cpus.nextSetBit(cpus.nextSetBit(0) + 1);
        RseqFence.ensureRegistered();
        // A section of a second or so, on the target CPU; the fence must cut it short.
        PerCpuOps slow = PerCpuOps.of(PerCpuOps.Index.CPU_ID, PerCpuOps.DEFAULT_STRIDE, DelayInjection.at(3, 1_500_000_000));
        PerCpuPool.Item v = PerCpuPool.create(8).allocate();
        CountDownLatch entering = new CountDownLatch(1);
        AtomicLong result = new AtomicLong();
        AtomicLong nanos = new AtomicLong();
        Thread worker = Thread.ofPlatform().start(() -> {
            BitSet one = new BitSet();
            one.set(target);
            ThreadCalls.schedSetaffinity(0, one);
            entering.countDown();
            long t0 = System.nanoTime();
            result.set(slow.add(v.percpu(), 1));
            nanos.set(System.nanoTime() - t0);
        });
        entering.await();
        Thread.sleep(50);
        long t0 = System.nanoTime();
        RseqFence.fence(target);
        long fenceNanos = System.nanoTime() - t0;
        worker.join();
        assertEquals(PerCpuOps.Status.ABORTED, PerCpuOps.status(result.get()), "the section was not aborted");
        assertTrue(nanos.get() < 500_000_000L, "aborted only after " + nanos.get() / 1_000_000 + " ms");
        assertTrue(fenceNanos < 500_000_000L, "the fence took " + fenceNanos / 1_000_000 + " ms");
        assertEquals(0, v.slot(target).get(java.lang.foreign.ValueLayout.JAVA_LONG, 0), "an aborted section committed");
    }
}
