package dev.pkrseq.rseq;

import java.util.concurrent.locks.ReentrantLock;

import dev.pkrseq.bench.NanoBenchmark;
import dev.pkrseq.rseq.percpu.PerCpuSpinlock;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Taking and giving back a lock around a one-word update, from every benchmark thread: pkrseq's per-CPU
 * spinlock (each thread takes its CPU's lock: one rseq critical section, then a release store) against one
 * shared {@link ReentrantLock} and one shared monitor ({@code synchronized}). bench/run runs this class with
 * {@code -t 1} and then {@code -t 2}. The guarded update is per CPU for the spinlock (param_test's sharded
 * count) and one shared field for the others, as each would be used.
 */
@State(Scope.Benchmark)
public class PerCpuSpinlockBench extends NanoBenchmark {
    private PerCpuSpinlock perCpu;
    private long[] shards;
    private final ReentrantLock reentrant = new ReentrantLock();
    private final Object monitor = new Object();
    private long guarded;

    /** The locks. */
    @Setup(Level.Trial)
    public void setup() {
        perCpu = new PerCpuSpinlock();
        // 16 longs apart: one cache line per CPU's count.
        shards = new long[16 * perCpu.ops().slots()];
    }

    /** pkrseq: lock the thread's CPU, bump that CPU's count, unlock. */
    @Benchmark
    public long rseqLockUnlock() {
        int cpu = perCpu.lock();
        long v = ++shards[16 * cpu];
        perCpu.unlock(cpu);
        return v;
    }

    /** {@link ReentrantLock#lock()}, a shared count, {@link ReentrantLock#unlock()}. */
    @Benchmark
    public long reentrantLockUnlock() {
        reentrant.lock();
        try {
            return ++guarded;
        } finally {
            reentrant.unlock();
        }
    }

    /** {@code synchronized} around a shared count. */
    @Benchmark
    public long synchronizedBlock() {
        synchronized (monitor) {
            return ++guarded;
        }
    }
}
