package dev.pkrseq.pkey;

import java.util.List;

import dev.pkrseq.sys.Sys;
import dev.pkrseq.sys.ThreadStack;
import dev.pkrseq.sys.TlsStaticInfo;

/**
 * The memory a thread touches on every call: its stack, and its TCB with the static TLS below it. Found
 * once per thread (pthread_getattr_np, the thread pointer, glibc's static TLS size) and kept, because a
 * thread's stack and TLS never move.
 */
final class ThreadMemory {
    /**
     * What glibc keeps at and above the thread pointer: struct pthread and, right after it, the rseq area.
     * Both fit in 4 KiB on x86_64 (the rseq area is at offset 2336 with glibc 2.36).
     */
    private static final long TCB_EXTENT = 4096;

    /** One area, page-rounded. */
    record Area(String what, long low, long high) {
    }

    private static final ThreadLocal<List<Area>> AREAS = ThreadLocal.withInitial(ThreadMemory::find);

    private ThreadMemory() {
    }

    /** The calling thread's stack and TLS areas. */
    static List<Area> current() {
        return AREAS.get();
    }

    private static List<Area> find() {
        long page = Sys.pageSize();
        ThreadStack stack = Sys.threadStack();
        long tp = Sys.threadPointer();
        long tls = Sys.tlsStaticInfo().map(TlsStaticInfo::size).orElse(page);
        return List.of(new Area("stack", down(stack.low(), page), up(stack.high(), page)),
                new Area("TCB and static TLS", down(tp - tls, page), up(tp + TCB_EXTENT, page)));
    }

    private static long down(long a, long page) {
        return a & -page;
    }

    private static long up(long a, long page) {
        return (a + page - 1) & -page;
    }
}
