package dev.pkrseq.rseq;

import java.util.BitSet;
import java.util.concurrent.CountDownLatch;

import dev.pkrseq.bench.NanoBenchmark;
import dev.pkrseq.sys.RseqCalls;
import dev.pkrseq.sys.ThreadCalls;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * What the rseq fence costs: {@code membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ)} for one CPU
 * ({@code MEMBARRIER_CMD_FLAG_CPU}) and for all, against the plain
 * {@code membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)}. A fence interrupts only CPUs that run a thread of
 * this process, so a sibling thread keeps the other CPU busy running rseq critical sections (the case a
 * fence exists for); the benchmark thread stays on its own CPU. No public number for this cost exists; no
 * target, a first measurement.
 */
@State(Scope.Benchmark)
public class RseqFenceBench extends NanoBenchmark {
    private int own;
    private int other;
    private volatile boolean stop;
    private Thread sibling;

    /** Registers for both fences, pins this thread and starts the busy sibling on the other CPU. */
    @Setup(Level.Trial)
    public void setup() throws InterruptedException {
        RseqFence.register();
        RseqCalls.membarrier(RseqCalls.MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0);
        BitSet cpus = ThreadCalls.schedGetaffinity(0);
        own = cpus.nextSetBit(0);
        other = cpus.nextSetBit(own + 1) < 0 ? own : cpus.nextSetBit(own + 1);
        pin(own);
        PerCpuOps ops = PerCpuOps.cpuId();
        PerCpuPool.Item word = PerCpuPool.create(8).allocate();
        CountDownLatch running = new CountDownLatch(1);
        sibling = Thread.ofPlatform().daemon().name("rseq-fence-sibling").start(() -> {
            pin(other);
            running.countDown();
            while (!stop) {
                ops.add(word.percpu(), 1);
            }
        });
        running.await();
    }

    /** Stops the sibling. */
    @TearDown(Level.Trial)
    public void tearDown() throws InterruptedException {
        stop = true;
        sibling.join();
    }

    private static void pin(int cpu) {
        BitSet one = new BitSet();
        one.set(cpu);
        ThreadCalls.schedSetaffinity(0, one);
    }

    /** The fence of the sibling's CPU: one interprocessor interrupt, which aborts its section if it is in one. */
    @Benchmark
    public void fenceOtherCpu() {
        RseqFence.fence(other);
    }

    /** The fence of the benchmark thread's own CPU: no other thread of the process runs there. */
    @Benchmark
    public void fenceOwnCpu() {
        RseqFence.fence(own);
    }

    /** The fence of every CPU. */
    @Benchmark
    public void fenceAllCpus() {
        RseqFence.fenceAll();
    }

    /** Baseline: the plain expedited membarrier of every CPU running this process, no rseq restart. */
    @Benchmark
    public int membarrierPrivateExpedited() {
        return RseqCalls.membarrier(RseqCalls.MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
    }
}
