package dev.pkrseq.pkey;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.util.List;
import java.util.Optional;

import dev.pkrseq.proc.SelfMemory;
import dev.pkrseq.sys.CStructs;
import dev.pkrseq.sys.LoaderCalls;
import dev.pkrseq.sys.MemoryCalls;
import dev.pkrseq.sys.ThreadCalls;
import dev.pkrseq.sys.Syscall;
import dev.pkrseq.sys.ThreadStack;
import dev.pkrseq.sys.TlsStaticInfo;

/**
 * The memory a thread touches on every call: its TCB with the static TLS below it, its DTV (the array of
 * TLS block pointers that every dynamic TLS access reads, found through the word at tp+8), and its stack.
 * The stack and the static TLS never move and are found once per thread (pthread_getattr_np, the thread
 * pointer, glibc's static TLS size). The DTV moves when glibc grows it after a dlopen, so its pointer is
 * read again on every check (one 8-byte load from the thread's own TCB) and its length when it moved.
 *
 * <p>The TLS areas come first: for a thread glibc created, the stack as pthread_attr_getstack reports it
 * also holds the TCB and static TLS at its top, and a refusal should name the more precise area.
 */
final class ThreadMemory {
    /**
     * What glibc keeps at and above the thread pointer: struct pthread and, right after it, the rseq area.
     * Both fit in 4 KiB on x86_64 (the rseq area is at offset 2336 with glibc 2.36).
     */
    private static final long TCB_EXTENT = 4096;

    private static final String TLS_DEATH = "the JVM would die on its next TLS access (errno, the stack canary at"
            + " fs:0x28, HotSpot's Thread::current)";

    /**
     * One area, page-rounded.
     *
     * @param what the area's name in a refusal, for example "stack"
     * @param low first byte, page-aligned
     * @param high one past the last byte, page-aligned
     * @param consequence what denying it would do, in words
     */
    record Area(String what, long low, long high, String consequence) {
    }

    /** The areas that never move, and the DTV area as last computed. */
    private static final class Known {
        final long threadPointer;
        final Area rseq;
        final Area tls;
        final Area stack;
        long dtv;
        Area dtvArea;

        Known(long threadPointer, Area rseq, Area tls, Area stack) {
            this.threadPointer = threadPointer;
            this.rseq = rseq;
            this.tls = tls;
            this.stack = stack;
        }
    }

    private static final ThreadLocal<Known> KNOWN = ThreadLocal.withInitial(ThreadMemory::find);

    private ThreadMemory() {
    }

    /** The calling thread's TLS, DTV (where there is one) and stack areas, in that order. */
    static List<Area> current() {
        Known k = KNOWN.get();
        if (k.threadPointer == 0) {
            return List.of(k.stack);
        }
        // The thread's own tcbhead_t: mapped and readable for as long as the thread can run at all.
        long dtv = MemoryCalls.memory(k.threadPointer, CStructs.TCBHEAD.byteSize()).get(JAVA_LONG, CStructs.TCB_DTV);
        if (dtv != k.dtv) {
            k.dtv = dtv;
            k.dtvArea = dtv == 0 ? null : dtvArea(dtv);
        }
        List<Area> out = new java.util.ArrayList<>(4);
        if (k.rseq != null) {
            out.add(k.rseq);
        }
        out.add(k.tls);
        if (k.dtvArea != null) {
            out.add(k.dtvArea);
        }
        out.add(k.stack);
        return out;
    }

    private static Known find() {
        long page = MemoryCalls.pageSize();
        ThreadStack stack = ThreadCalls.threadStack();
        Area stackArea = new Area("stack", down(stack.low(), page), up(stack.high(), page),
                "which the JVM touches on every call");
        Optional<TlsStaticInfo> info = Syscall.architectureSupported() ? LoaderCalls.tlsStaticInfo() : Optional.empty();
        if (info.isEmpty()) {
            return new Known(0, null, null, stackArea);
        }
        long tp = LoaderCalls.threadPointer();
        long tls = info.get().size();
        long high = up(tp + TCB_EXTENT, page);
        if (Long.compareUnsigned(tp, stack.low()) >= 0 && Long.compareUnsigned(tp, stack.high()) < 0) {
            // glibc puts a thread's TCB at the top of its stack block: the TCB ends there, not in the next mapping.
            high = Math.min(high, up(stack.high(), page));
        }
        Area tlsArea = new Area("TCB and static TLS", down(tp - tls, page), high, "so " + TLS_DEATH);
        Area rseq = rseqArea(tp, page);
        if (rseq != null && rseq.low() >= tlsArea.low() && rseq.high() <= tlsArea.high()) {
            // glibc 2.36 to 2.40 keep it in struct pthread, 2.41+ in the static TLS block: inside the TLS area,
            // whose refusal then names it too.
            tlsArea = new Area(tlsArea.what(), tlsArea.low(), tlsArea.high(), tlsArea.consequence() + "; and it holds "
                    + rseq.what() + ", " + rseq.consequence());
            rseq = null;
        }
        return new Known(tp, rseq, tlsArea, stackArea);
    }

    /**
     * glibc's struct rseq for this thread, at tp + __rseq_offset, while glibc registered one (__rseq_size > 0):
     * named in a refusal, because denying write access to its page is fatal in a way of its own. The kernel
     * writes cpu_id_start, cpu_id, node_id and mm_cid there with the thread's rights on its way back to user
     * space after every preemption, migration or signal, and kills the process with SIGSEGV when it cannot
     * (kernel-path matrix row rseq-area; experiment rseq.glibc-area-under-key).
     */
    private static Area rseqArea(long tp, long page) {
        long offset = LoaderCalls.longSymbol("__rseq_offset").orElse(0);
        int size = LoaderCalls.intSymbol("__rseq_size").orElse(0);
        if (size <= 0) {
            return null;
        }
        long area = tp + offset;
        return new Area("the rseq area (glibc's struct rseq at 0x" + Long.toHexString(area) + ")", down(area, page),
                up(area + 32, page), "which the kernel writes with this thread's rights on its way back to user space"
                        + " after every preemption, migration or signal: without write access it kills the process with"
                        + " SIGSEGV at the next one");
    }

    /** {@code [dtv - 16, dtv + 16 * (slots + 1))}, page-rounded; the slot count read without risk of a fault. */
    private static Area dtvArea(long dtv) {
        long page = MemoryCalls.pageSize();
        long slots = 0;
        try (SelfMemory mem = SelfMemory.open()) {
            slots = mem.dtvSlots(dtv);
        } catch (RuntimeException e) {
            // No /proc/self/mem: the DTV's first page still counts.
        }
        return new Area("DTV", down(dtv - 16, page), up(dtv + 16 * (slots + 1), page),
                "which every dynamic TLS access reads, so " + TLS_DEATH);
    }

    private static long down(long a, long page) {
        return a & -page;
    }

    private static long up(long a, long page) {
        return (a + page - 1) & -page;
    }
}
