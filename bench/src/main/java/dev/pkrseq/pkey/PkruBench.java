package dev.pkrseq.pkey;

import dev.pkrseq.bench.Bare;
import dev.pkrseq.bench.NanoBenchmark;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Reading and setting a thread's rights for a key: glibc's pkey_get/pkey_set through bare critical
 * handles, the same through pkrseq's API with its guards, and an empty critical downcall as the floor.
 * Needs protection keys; bench/run leaves it out where pkey_alloc fails.
 */
@State(Scope.Thread)
public class PkruBench extends NanoBenchmark {
    private ProtectionKey key;
    private int number;
    private boolean flip;

    /** Allocates the key on the benchmark thread, read-write for it. */
    @Setup(Level.Trial)
    public void setup() {
        key = ProtectionKey.allocate(Rights.READ_WRITE);
        number = key.number();
    }

    /** Frees the key; it tags no memory. */
    @TearDown(Level.Trial)
    public void tearDown() {
        key.setRights(Rights.NO_ACCESS);
        key.close();
    }

    /** Floor: a critical downcall of a function that does nothing useful ({@code labs}). */
    @Benchmark
    public long emptyCritical() throws Throwable {
        return (long) Bare.LABS_CRITICAL.invokeExact(flip ? -1L : 1L);
    }

    /** glibc's pkey_get (RDPKRU) through a bare critical handle. */
    @Benchmark
    public int glibcPkeyGetCritical() throws Throwable {
        return (int) Bare.PKEY_GET_CRITICAL.invokeExact(number);
    }

    /** glibc's pkey_set (RDPKRU, WRPKRU) through a bare critical handle, alternating two rights. */
    @Benchmark
    public int glibcPkeySetCritical() throws Throwable {
        flip = !flip;
        return (int) Bare.PKEY_SET_CRITICAL.invokeExact(number, flip ? Rights.NO_WRITE.bits() : Rights.READ_WRITE.bits());
    }

    /** pkrseq's {@code key.rights()}: checks, then the critical pkey_get. */
    @Benchmark
    public Rights pkeyGet() {
        return key.rights();
    }

    /** pkrseq's {@code key.setRights(...)}: guards, then the critical pkey_set, alternating two rights. */
    @Benchmark
    public void pkeySet() {
        flip = !flip;
        key.setRights(flip ? Rights.NO_WRITE : Rights.READ_WRITE);
    }
}
