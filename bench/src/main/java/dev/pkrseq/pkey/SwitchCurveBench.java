package dev.pkrseq.pkey;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import dev.pkrseq.bench.NanoBenchmark;
import dev.pkrseq.sys.PkruCode;
import dev.pkrseq.sys.MemoryCalls;
import dev.pkrseq.sys.PkeyCalls;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.infra.Blackhole;

/**
 * The domain-switch cost curve, in ERIM's shape: a fixed amount of work ({@link Blackhole#consumeCPU}
 * tokens) between two switches, so that the operation rate is the switch rate, from about 10^7 switches per
 * second (no work) to about 10^3 (400,000 tokens, near a millisecond). One switch is a deny and a restore of
 * one key: through the library's {@code withRights} scope, through glibc's bare {@code pkey_set}, through
 * WRPKRU in generated code ({@link PkruCode}, no glibc), and, for scale, through {@code mprotect} of one page
 * to PROT_NONE and back. The overhead of a way at a rate is its score over {@link #baseline()}'s at the same
 * {@code tokens}, minus one; the report prints the realised rate (10^9 / ns per operation).
 *
 * <p>The PKRU methods need protection keys; bench/run leaves them out where pkey_alloc fails, and baseline
 * and mprotect then run alone. Timings from an emulated CPU (the PKU guest) measure the emulator: never quote
 * them.
 */
@State(Scope.Thread)
public class SwitchCurveBench extends NanoBenchmark {
    /** Work between two switches, in consumeCPU tokens. */
    @Param({"0", "40", "400", "4000", "40000", "400000"})
    public long tokens;

    private Arena arena;
    private long page;
    private long pageSize;
    private ProtectionKey key;
    private int number;
    private int open;
    private int denied;

    /** A touched page, and where protection keys work a key held read-write with the two PKRU values. */
    @Setup(Level.Trial)
    public void setup() {
        arena = Arena.ofShared();
        MemorySegment p = Pages.allocate(arena, 1);
        p.set(JAVA_BYTE, 0, (byte) 1);
        page = p.address();
        pageSize = p.byteSize();
        if (Pkeys.supported()) {
            key = ProtectionKey.allocate(Rights.READ_WRITE);
            number = key.number();
            open = PkruCode.read();
            denied = new Pkru(open).with(number, Rights.NO_ACCESS).value();
        }
    }

    /** Frees the key and unmaps the page. */
    @TearDown(Level.Trial)
    public void tearDown() {
        if (key != null) {
            key.close();
        }
        arena.close();
    }

    /** The work alone. */
    @Benchmark
    public void baseline() {
        Blackhole.consumeCPU(tokens);
    }

    /** The work, then a deny and a restore through the library's guarded scope. */
    @Benchmark
    public void withRights() {
        Blackhole.consumeCPU(tokens);
        try (RightsScope _ = key.withRights(Rights.NO_ACCESS)) {
            // The switch is the point: nothing runs inside.
        }
    }

    /** The work, then a deny and a restore through glibc's pkey_set. */
    @Benchmark
    public void pkeySet() {
        Blackhole.consumeCPU(tokens);
        PkeyCalls.pkeySet(number, PkeyCalls.PKEY_DISABLE_ACCESS);
        PkeyCalls.pkeySet(number, 0);
    }

    /** The work, then a deny and a restore through WRPKRU in generated code. */
    @Benchmark
    public void wrpkru() {
        Blackhole.consumeCPU(tokens);
        PkruCode.write(denied);
        PkruCode.write(open);
    }

    /** The work, then one page to PROT_NONE and back with mprotect. */
    @Benchmark
    public void mprotect() {
        Blackhole.consumeCPU(tokens);
        MemoryCalls.mprotect(page, pageSize, MemoryCalls.PROT_NONE);
        MemoryCalls.mprotect(page, pageSize, MemoryCalls.PROT_READ | MemoryCalls.PROT_WRITE);
    }
}
