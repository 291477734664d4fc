package dev.pkrseq.rseq;

import java.util.concurrent.ArrayBlockingQueue;

import dev.pkrseq.bench.NanoBenchmark;
import dev.pkrseq.rseq.percpu.PerCpuRing;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * A bounded FIFO every benchmark thread offers to and polls from: pkrseq's per-CPU ring of pointers (an
 * offer and a poll, each one rseq critical section on the thread's CPU's ring) against one shared
 * {@link ArrayBlockingQueue} (a lock per operation). bench/run runs this class with {@code -t 1} and then
 * {@code -t 2}; both hold 1024 entries at most and start half full.
 */
@State(Scope.Benchmark)
public class PerCpuRingBench extends NanoBenchmark {
    private static final int CAPACITY = 1024;

    private PerCpuRing perCpu;
    private ArrayBlockingQueue<Long> queue;

    /** The rings and the queue, half full. */
    @Setup(Level.Trial)
    public void setup() {
        PerCpuOps ops = PerCpuOps.cpuId();
        perCpu = new PerCpuRing(ops, PerCpuPool.create(PerCpuRing.bytesPerCpu(CAPACITY)), CAPACITY,
                PerCpuOps.Order.RELEASE);
        queue = new ArrayBlockingQueue<>(CAPACITY * ops.slots());
        for (int cpu = 0; cpu < ops.slots(); cpu++) {
            for (int i = 1; i <= CAPACITY / 2; i++) {
                perCpu.offerQuiescent(cpu, i);
                queue.offer((long) i);
            }
        }
    }

    /** pkrseq: offer to the thread's CPU's ring, poll from it. */
    @Benchmark
    public long rseqOfferPoll() {
        perCpu.offer(7);
        return perCpu.poll();
    }

    /** {@link ArrayBlockingQueue#offer} then {@link ArrayBlockingQueue#poll()}. */
    @Benchmark
    public Long arrayBlockingQueueOfferPoll() {
        queue.offer(7L);
        return queue.poll();
    }
}
