package dev.pkrseq.rseq;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import dev.pkrseq.bench.Bare;
import dev.pkrseq.bench.NanoBenchmark;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * What it costs to know the current CPU: rseq's cpu_id load against the physical floor (an int read
 * from native memory) and the ways through the C library and the kernel.
 *
 * <p>{@code rseqMmCid} needs pkrseq's own registration: glibc 2.36's {@code __rseq_size} of 20 does not
 * cover mm_cid. bench/run runs it in a separate JMH invocation under
 * {@code GLIBC_TUNABLES=glibc.pthread.rseq=0}.
 */
@State(Scope.Thread)
public class CurrentCpuBench extends NanoBenchmark {
    private MemorySegment plain;
    private MemorySegment cpuNode;

    /** The baselines' memory: an int to load, and getcpu's two out-parameters. */
    @Setup(Level.Trial)
    public void setup() {
        plain = Arena.ofAuto().allocate(32, 32);
        plain.set(JAVA_INT, 4, 1);
        cpuNode = Arena.ofAuto().allocate(8, 8);
    }

    /** Baseline: an int read from a native segment, the floor any cpu_id read can reach. */
    @Benchmark
    public int plainLoad() {
        return plain.get(JAVA_INT, 4);
    }

    /** pkrseq's cpu_id read: one opaque load from the thread's struct rseq after the owner check. */
    @Benchmark
    public int rseqCpuId(Registered registered) {
        return registered.area.cpuId();
    }

    /** pkrseq's mm_cid read, under its own registration. */
    @Benchmark
    public int rseqMmCid(OwnRegistration own) {
        return own.area.mmCidRaw();
    }

    /** glibc's sched_getcpu through a plain FFM downcall. */
    @Benchmark
    public int schedGetcpu() throws Throwable {
        return (int) Bare.SCHED_GETCPU.invokeExact();
    }

    /** glibc's sched_getcpu through a critical FFM downcall. */
    @Benchmark
    public int schedGetcpuCritical() throws Throwable {
        return (int) Bare.SCHED_GETCPU_CRITICAL.invokeExact();
    }

    /** The getcpu system call itself, through syscall(2): no vDSO, no rseq. */
    @Benchmark
    public long getcpuSyscall() throws Throwable {
        return (long) Bare.SYSCALL_3.invokeExact(Bare.SYS_GETCPU, cpuNode, cpuNode.asSlice(4), MemorySegment.NULL);
    }

    /**
     * The benchmark thread's area, whoever registered it. A state of its own, so that rseqMmCid, which runs
     * where glibc registered nothing, does not need one.
     */
    @State(Scope.Thread)
    public static class Registered {
        RseqArea area;

        /** Runs on the benchmark thread, which must own the area it reads. */
        @Setup(Level.Trial)
        public void setup() {
            area = Rseq.current().orElseThrow(() -> new IllegalStateException(
                    "this thread has no registered rseq area: " + Rseq.whyNotRegistered()));
        }
    }

    /** The benchmark thread registered by pkrseq itself, so that mm_cid is covered. */
    @State(Scope.Thread)
    public static class OwnRegistration {
        RseqArea area;

        /** Registers the benchmark thread; refuses beside glibc, whose area does not cover mm_cid. */
        @Setup(Level.Trial)
        public void register() {
            if (Rseq.owner() == Owner.GLIBC) {
                throw new IllegalStateException("rseqMmCid needs pkrseq's own registration, because glibc's "
                        + Rseq.glibcSize() + "-byte area does not cover mm_cid: run it under "
                        + "GLIBC_TUNABLES=glibc.pthread.rseq=0 (bench/run does)");
            }
            area = Rseq.ensureRegistered();
            if (!area.coversMmCid()) {
                throw new IllegalStateException("this kernel writes no mm_cid (feature size " + Rseq.kernelFeatureSize() + ")");
            }
        }

        /** Leaves nothing registered. */
        @TearDown(Level.Trial)
        public void unregister() {
            Rseq.unregister();
        }
    }
}
