package dev.pkrseq.rseq;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

import dev.pkrseq.bench.Bare;
import dev.pkrseq.bench.NanoBenchmark;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * A counter that every benchmark thread adds to: pkrseq's per-CPU counter (a generated rseq critical
 * section, no atomic instruction) against {@link LongAdder} (a CAS on {@code base} while uncontended,
 * per-thread-hashed cells once contended) and a shared {@link AtomicLong} ({@code lock xadd} on one cache
 * line). bench/run runs this class with {@code -t 1} and then {@code -t 2}; the threads share one
 * instance of each counter.
 *
 * <p>{@code criticalDowncallFloor} is the baseline for {@code rseqAdd}: a critical downcall to glibc's
 * {@code labs}, a function of a few instructions, so its time is the JDK's call stub alone. The rseq add
 * cannot be cheaper than that plus its own handful of instructions.
 */
@State(Scope.Benchmark)
public class PerCpuCounterBench extends NanoBenchmark {
    private PerCpuCounter perCpu;
    private LongAdder adder;
    private AtomicLong atomic;
    private long operand = -7;

    /** One of each counter, shared by the benchmark threads. */
    @Setup(Level.Trial)
    public void setup() {
        perCpu = new PerCpuCounter();
        if (perCpu.owner() != Owner.GLIBC) {
            throw new IllegalStateException("rseqAdd measures the glibc variant; this JVM's threads are registered by "
                    + perCpu.owner());
        }
        adder = new LongAdder();
        atomic = new AtomicLong();
    }

    /** pkrseq's per-CPU add: a critical downcall into the generated critical section. */
    @Benchmark
    public void rseqAdd() {
        perCpu.increment();
    }

    /** {@link LongAdder#increment()}. */
    @Benchmark
    public void longAdderIncrement() {
        adder.increment();
    }

    /** {@link AtomicLong#incrementAndGet()} on one shared counter. */
    @Benchmark
    public long atomicLongIncrement() {
        return atomic.incrementAndGet();
    }

    /** Baseline: a critical downcall that does next to nothing ({@code labs}). */
    @Benchmark
    public long criticalDowncallFloor() throws Throwable {
        return (long) Bare.LABS_CRITICAL.invokeExact(operand);
    }
}
