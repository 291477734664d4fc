package dev.pkrseq.pkey;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;

import com.sun.management.HotSpotDiagnosticMXBean;

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
 * them every time. And the seed itself: retagging the calling thread's static TLS and restoring it, in a
 * fork set up so that the retag cannot kill it (see {@link #tlsRetagRestore}).
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
     * The seed's retag of the benchmark thread's static TLS, the exact range only (the TCB page and the
     * static TLS below it, 2 pages in a JVM thread), and its restore: 2 pkey_mprotect calls and a
     * pthread_sigmask each way.
     *
     * <p>A JMH fork is a JVM with other threads, and while the pages carry the key every other thread
     * faults on them (its PKRU denies the key), and so does any signal handler of this thread. What
     * makes the window survivable, and why each setting is here (observed in the PKU guest, issue 12):
     * <ul>
     *   <li>{@link TlsRetag.Option#WITHOUT_DTV_PAGE}: the DTV of a thread the JVM created is a malloc chunk
     *       of the creating thread's arena (JMH's main thread's), and its page holds that thread's other
     *       chunks: tagging it killed the fork when the main thread, entering a method, read the class's
     *       mirror handle there, or when G1's refinement thread read its statistics there (SEGV_PKUERR).</li>
     *   <li>Epsilon, no garbage collector: the range's lowest page also holds the thread's oldest stack
     *       frames, which every collector walks (G1's workers, Serial's VM thread) at each collection; a
     *       collection inside the window killed the fork in {@code frame::oops_interpreted_do}. Epsilon
     *       never collects, so the heap must hold the whole fork's allocation: {@link ThreadTls} refuses
     *       to start an iteration that could run out of it inside a window.</li>
     *   <li>{@code -Xint}: compiled code's safepoint polls and implicit null checks are SIGSEGVs by design,
     *       and the handler runs with the initial PKRU: fatal in the window. The interpreter polls
     *       without a fault. Its cost is in the time: this measures the retag plus the interpreter.</li>
     *   <li>Asynchronous signals are blocked by the retag itself (its default).</li>
     * </ul>
     * What remains cannot be prevented from here, so do not do it to this fork: a thread dump (jstack,
     * jcmd Thread.print, SIGQUIT), a stack-walking profiler ({@code -prof stack}, JFR, async-profiler), or
     * ThreadMXBean CPU time of this thread, each of which reads the tagged pages from another thread.
     */
    @Benchmark
    @Fork(value = 3, jvmArgsAppend = {ThreadTls.NATIVE_ACCESS, ThreadTls.INTERPRETED, ThreadTls.EXPERIMENTAL,
        ThreadTls.EPSILON, ThreadTls.HEAP})
    public void tlsRetagRestore(ThreadTls tls) {
        Tls.retag(a, tls.layout, Hazard.MAY_KILL_THIS_JVM, TlsRetag.Option.WITHOUT_DTV_PAGE).restore();
    }

    /**
     * The benchmark thread's TLS map, computed once on that thread, and the guard on the fork's heap: with
     * Epsilon nothing is ever freed, and an OutOfMemoryError inside a retag window could leave the pages
     * tagged.
     */
    @State(Scope.Thread)
    public static class ThreadTls {
        static final String NATIVE_ACCESS = "--enable-native-access=ALL-UNNAMED";
        static final String INTERPRETED = "-Xint";
        static final String EXPERIMENTAL = "-XX:+UnlockExperimentalVMOptions";
        static final String EPSILON = "-XX:+UseEpsilonGC";
        /**
         * The fork's heap: far more than a full run allocates (about 7 KB per retag and restore, JMH's share
         * included, measured in the PKU guest).
         */
        static final String HEAP = "-Xmx3g";
        /** The fork's flags, as the benchmark's {@code @Fork} gives them. */
        static final List<String> FLAGS = List.of(NATIVE_ACCESS, INTERPRETED, EXPERIMENTAL, EPSILON, HEAP);
        /** Never start an iteration with less heap left than this. */
        private static final long MIN_LEFT = 256L << 20;

        TlsLayout layout;
        private long usedBefore = -1;

        /**
         * Checks that the fork runs the way {@link #tlsRetagRestore} needs (a {@code -jvmArgsAppend} on the
         * command line replaces the benchmark's own flags), then maps the calling (benchmark) thread's
         * static TLS.
         */
        @Setup(Level.Trial)
        public void map() {
            List<String> missing = new ArrayList<>();
            if (!System.getProperty("java.vm.info", "").contains("interpreted mode")) {
                missing.add("-Xint (this fork compiles: a compiled safepoint poll in the window is fatal)");
            }
            HotSpotDiagnosticMXBean hotspot = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
            if (!"true".equals(hotspot.getVMOption("UseEpsilonGC").getValue())) {
                missing.add("-XX:+UseEpsilonGC (this fork collects garbage: a collection in the window is fatal)");
            }
            if (!missing.isEmpty()) {
                throw new IllegalStateException("refusing to run TagBench.tlsRetagRestore: its fork lacks "
                        + String.join(" and ", missing) + ". A -jvmArgsAppend on the command line replaces the"
                        + " benchmark's own; give it all of them: " + String.join(" ", FLAGS));
            }
            layout = Tls.current();
        }

        /**
         * Refuses to start an iteration when the heap left is less than 256 MiB or three times what the
         * previous iteration allocated.
         */
        @Setup(Level.Iteration)
        public void heapLeft() {
            Runtime rt = Runtime.getRuntime();
            long used = rt.totalMemory() - rt.freeMemory();
            long left = rt.maxMemory() - used;
            long last = usedBefore < 0 ? 0 : used - usedBefore;
            usedBefore = used;
            if (left < Math.max(MIN_LEFT, 3 * last)) {
                throw new IllegalStateException("TagBench.tlsRetagRestore: the fork's heap has " + (left >> 20)
                        + " MiB left and the last iteration allocated " + (last >> 20) + " MiB; Epsilon frees nothing,"
                        + " and running out inside a retag window would leave the TLS tagged: run shorter iterations,"
                        + " or give the fork a larger heap with -jvmArgsAppend '" + String.join(" ", FLAGS)
                        .replace(HEAP, "-Xmx8g") + "' (it replaces the benchmark's own flags)");
            }
        }
    }
}
