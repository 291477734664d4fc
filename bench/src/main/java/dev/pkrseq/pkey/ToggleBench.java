package dev.pkrseq.pkey;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import dev.pkrseq.bench.NanoBenchmark;
import dev.pkrseq.sys.MemoryCalls;
import dev.pkrseq.sys.PkeyCalls;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Making a populated region inaccessible and accessible again, three ways: two PKRU writes (cost
 * independent of the size), two mprotect calls, two pkey_mprotect calls (both walk the page tables).
 * The pkru and pkeyMprotect methods need protection keys; bench/run leaves them out where pkey_alloc
 * fails, and mprotect then runs alone.
 */
@State(Scope.Thread)
public class ToggleBench extends NanoBenchmark {
    /** Region size in pages. */
    @Param({"1", "16", "256", "4096"})
    public int pages;

    private Arena arena;
    private MemorySegment region;
    private long address;
    private long length;
    private ProtectionKey key;
    private int number;

    /**
     * Maps and touches every page, so the page tables are populated, and, where protection keys work,
     * tags the region with a key the benchmark thread may read and write.
     */
    @Setup(Level.Trial)
    public void setup() {
        arena = Arena.ofShared();
        region = Pages.allocate(arena, pages);
        for (long off = 0; off < region.byteSize(); off += Pages.size()) {
            region.set(JAVA_BYTE, off, (byte) 1);
        }
        address = region.address();
        length = region.byteSize();
        if (Pkeys.supported()) {
            key = ProtectionKey.allocate(Rights.READ_WRITE);
            number = key.number();
            key.protect(region, Protection.READ_WRITE);
        }
    }

    /** Puts key 0 back, frees the key, unmaps the region. */
    @TearDown(Level.Trial)
    public void tearDown() {
        if (key != null) {
            ProtectionKey.DEFAULT.protect(region, Protection.READ_WRITE);
            key.setRights(Rights.NO_ACCESS);
            key.close();
        }
        arena.close();
    }

    /** Two pkey_set calls: deny access to the region's key, then allow it again. */
    @Benchmark
    public void pkru() {
        PkeyCalls.pkeySet(number, PkeyCalls.PKEY_DISABLE_ACCESS);
        PkeyCalls.pkeySet(number, 0);
    }

    /** Two mprotect calls: PROT_NONE, then read-write again. */
    @Benchmark
    public void mprotect() {
        MemoryCalls.mprotect(address, length, MemoryCalls.PROT_NONE);
        MemoryCalls.mprotect(address, length, MemoryCalls.PROT_READ | MemoryCalls.PROT_WRITE);
    }

    /** Two pkey_mprotect calls with the region's key: PROT_NONE, then read-write again. */
    @Benchmark
    public void pkeyMprotect() {
        PkeyCalls.pkeyMprotect(address, length, MemoryCalls.PROT_NONE, number);
        PkeyCalls.pkeyMprotect(address, length, MemoryCalls.PROT_READ | MemoryCalls.PROT_WRITE, number);
    }
}
