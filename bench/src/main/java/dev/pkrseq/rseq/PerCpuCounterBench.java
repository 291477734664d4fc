package dev.pkrseq.rseq;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

import dev.pkrseq.bench.Bare;
import dev.pkrseq.bench.NanoBenchmark;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
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
 *
 * <p>{@code rseqAddAll8} amortises that floor: eight per-CPU counters (one pool item of eight words, a
 * statistics record) each get 1 in one call of {@link PerCpuOps#addAll}, eight critical sections in one
 * downcall; {@code longAdderIncrement8} does the same to eight {@link LongAdder}s. Both report the time per
 * add.
 */
@State(Scope.Benchmark)
public class PerCpuCounterBench extends NanoBenchmark {
    private PerCpuCounter perCpu;
    private LongAdder adder;
    private AtomicLong atomic;
    private long operand = -7;
    private PerCpuOps ops;
    private MemorySegment bank;
    private MemorySegment ones;
    private LongAdder[] adders;

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
        ops = PerCpuOps.cpuId();
        bank = PerCpuPool.create(64).allocate().percpu();
        ones = Arena.ofAuto().allocate(64, 8);
        for (int i = 0; i < 8; i++) {
            ones.set(JAVA_LONG, 8L * i, 1);
        }
        adders = new LongAdder[8];
        for (int i = 0; i < 8; i++) {
            adders[i] = new LongAdder();
        }
    }

    /** pkrseq's bulk add: eight per-CPU counters, 1 each, eight sections in one critical downcall. Per add. */
    @Benchmark
    @OperationsPerInvocation(8)
    public long rseqAddAll8() {
        return ops.addAll(bank, ones, 8);
    }

    /** Eight {@link LongAdder#increment()}s, one per counter. Per add. */
    @Benchmark
    @OperationsPerInvocation(8)
    public void longAdderIncrement8() {
        for (LongAdder a : adders) {
            a.increment();
        }
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
