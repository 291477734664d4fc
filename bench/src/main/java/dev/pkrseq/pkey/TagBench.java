package dev.pkrseq.pkey;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import dev.pkrseq.bench.NanoBenchmark;
import dev.pkrseq.sys.Sys;
import dev.pkrseq.tls.Tls;
import dev.pkrseq.tls.TlsLayout;
import dev.pkrseq.tls.TlsRetag;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Tagging 64 pages: the seed's page walk (one pkey_mprotect per page) against one pkey_mprotect over
 * the range. Each invocation moves the pages to the other of two keys, so the kernel really changes
 * them every time. And the seed itself: retagging the calling thread's static TLS and restoring it.
 * Needs protection keys; bench/run leaves it out where pkey_alloc fails.
 */
@State(Scope.Thread)
public class TagBench extends NanoBenchmark {
    private static final int PAGES = 64;
    private static final int RW = Sys.PROT_READ | Sys.PROT_WRITE;

    private Arena arena;
    private MemorySegment region;
    private ProtectionKey a;
    private ProtectionKey b;
    private boolean flip;

    /** Two keys, both read-write for the benchmark thread, and 64 fresh pages. */
    @Setup(Level.Trial)
    public void setup() {
        arena = Arena.ofShared();
        region = Pages.allocate(arena, PAGES);
        a = ProtectionKey.allocate(Rights.READ_WRITE);
        b = ProtectionKey.allocate(Rights.READ_WRITE);
    }

    /** Hands the pages back to key 0, frees the keys, unmaps. */
    @TearDown(Level.Trial)
    public void tearDown() {
        ProtectionKey.DEFAULT.protect(region, RW);
        a.setRights(Rights.NO_ACCESS);
        b.setRights(Rights.NO_ACCESS);
        a.close();
        b.close();
        arena.close();
    }

    /** The page walk: 64 pkey_mprotect calls, one per page, with a per-page report. */
    @Benchmark
    public PageWalk walkPerPage() {
        flip = !flip;
        return (flip ? a : b).tagPages(region, RW);
    }

    /** One pkey_mprotect call over the 64 pages. */
    @Benchmark
    public void oneCall() {
        flip = !flip;
        (flip ? a : b).protect(region, RW);
    }

    /**
     * The TLS issue's retag of the benchmark thread's static TLS (the exact pages; the DTV page, which
     * shares a malloc page with other threads' chunks, is left out) and its restore. The fork runs
     * interpreted: while the TLS carries a key, a compiled safepoint poll (a SIGSEGV by design) would kill
     * the JVM, because signal handlers run with the initial PKRU. The time is the system calls'; the
     * interpreter adds little to them.
     */
    @Benchmark
    @Fork(value = 3, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xint"})
    public void tlsRetagRestore(ThreadTls tls) {
        Tls.retag(a, tls.layout, Hazard.MAY_KILL_THIS_JVM, TlsRetag.Option.WITHOUT_DTV_PAGE).restore();
    }

    /** The benchmark thread's TLS map, computed once on that thread. */
    @State(Scope.Thread)
    public static class ThreadTls {
        TlsLayout layout;

        /** Maps the calling (benchmark) thread's static TLS. */
        @Setup(Level.Trial)
        public void map() {
            layout = Tls.current();
        }
    }
}
