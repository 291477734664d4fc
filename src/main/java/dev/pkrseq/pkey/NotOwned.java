package dev.pkrseq.pkey;

import java.util.List;
import java.util.Optional;

import dev.pkrseq.proc.SelfMemory;
import dev.pkrseq.proc.Smaps;
import dev.pkrseq.proc.Vma;

/**
 * Names memory pkrseq did not map, for the refusal: which page first, and what smaps says it is. Runs only
 * on the refusal path (one smaps read, milliseconds), never when tagging succeeds.
 */
final class NotOwned {
    /** glibc's HEAP_MAX_SIZE on 64-bit: each malloc arena but the main one is a block of this size and alignment. */
    private static final long ARENA_BLOCK = 64L << 20;

    private static final String FAULTS = "a thread whose rights deny the key dies when it touches those pages, and"
            + " with it the JVM";

    private NotOwned() {
    }

    /** The refusal for {@code [start, end)}, which is not wholly one mapping of pkrseq through its own scope. */
    static UntaggableSegmentException refusal(String action, long start, long end) {
        long first = OwnedPages.firstNotOwned(start, end);
        if (first == -1) {
            return UntaggableSegmentException.alias(action, start, end);
        }
        // This thread's stack, TLS and DTV first: more precise than the mapping's name.
        for (ThreadMemory.Area a : ThreadMemory.current()) {
            if (Long.compareUnsigned(first, a.low()) >= 0 && Long.compareUnsigned(first, a.high()) < 0) {
                return UntaggableSegmentException.notOwned(UntaggableSegmentException.Reason.THREAD, action, start, end,
                        String.format("part of this thread's %s [0x%x-0x%x)", a.what(), a.low(), a.high()),
                        a.consequence());
            }
        }
        List<Vma> vmas = Smaps.self();
        Optional<Vma> found = Smaps.containing(vmas, first);
        if (found.isEmpty()) {
            return UntaggableSegmentException.notOwned(UntaggableSegmentException.Reason.NOT_MAPPED, action, start, end,
                    String.format("unmapped (nothing is mapped at 0x%x)", first),
                    "and whatever is mapped there next belongs to someone else");
        }
        Vma v = found.get();
        String range = String.format("0x%x-0x%x %s", v.start(), v.end(), v.perms());
        String path = v.path();
        if (path.equals("[heap]")) {
            return malloc(action, start, end, "the C heap ([heap] " + range + ")");
        }
        if (path.equals("[stack]")) {
            return UntaggableSegmentException.notOwned(UntaggableSegmentException.Reason.THREAD, action, start, end,
                    "the initial thread's stack ([stack] " + range + ")", "which that thread touches on every call");
        }
        if (path.isEmpty() || path.startsWith("[anon")) {
            String name = path.isEmpty() ? "" : " " + path;
            if (arenaLayout(vmas, v)) {
                return malloc(action, start, end, "a glibc malloc arena (anonymous" + name + " " + range
                        + ", at the start of a 64 MiB-aligned block)");
            }
            return UntaggableSegmentException.notOwned(UntaggableSegmentException.Reason.ANONYMOUS, action, start, end,
                    "anonymous memory pkrseq did not map (" + range + name + ": the Java heap, JIT code, metaspace, a"
                            + " thread's stack, a large malloc chunk or another mmap)",
                    "which the JVM or other code may touch from any thread; " + FAULTS);
        }
        if (path.startsWith("[")) {
            return UntaggableSegmentException.notOwned(UntaggableSegmentException.Reason.ANONYMOUS, action, start, end,
                    "the kernel's " + path + " mapping (" + range + ")", "which every thread may use; " + FAULTS);
        }
        return UntaggableSegmentException.notOwned(UntaggableSegmentException.Reason.FILE, action, start, end,
                "a mapping of " + path + " (" + range + ")",
                "whose pages the code that mapped the file reads from any thread; " + FAULTS);
    }

    private static UntaggableSegmentException malloc(String action, long start, long end, String what) {
        return UntaggableSegmentException.notOwned(UntaggableSegmentException.Reason.MALLOC, action, start, end, what,
                "where malloc (and so Arena.allocate) hands out chunks that share pages with other threads' chunks and"
                        + " go back to malloc when freed; " + FAULTS);
    }

    /**
     * Whether an anonymous mapping is a glibc malloc arena's heap: it starts a 64 MiB-aligned block that it,
     * and the inaccessible reserve after it, fill exactly, and its first bytes are glibc's {@code heap_info}
     * ({@code ar_ptr, prev, size, mprotect_size}) with sizes that fit the block. Read through
     * /proc/self/mem, where a wrong guess is an error and not a fault.
     */
    private static boolean arenaLayout(List<Vma> vmas, Vma v) {
        if ((v.start() & (ARENA_BLOCK - 1)) != 0 || v.size() > ARENA_BLOCK) {
            return false;
        }
        long blockEnd = v.start() + ARENA_BLOCK;
        if (v.end() != blockEnd) {
            Optional<Vma> rest = Smaps.containing(vmas, v.end());
            if (rest.isEmpty() || rest.get().start() != v.end() || rest.get().end() != blockEnd
                    || !rest.get().perms().startsWith("---") || !rest.get().path().isEmpty()) {
                return false;
            }
        }
        // heap_info: ar_ptr (the arena, inside the first heap of an arena), prev (the arena's previous heap, another
        // block), size and mprotect_size (page multiples up to the block; the arena may grow between the smaps
        // read and this one, so the mapping's size is no bound).
        try (SelfMemory mem = SelfMemory.open()) {
            long arena = mem.word(v.start()).orElse(0);
            long prev = mem.word(v.start() + 8).orElse(0);
            long size = mem.word(v.start() + 16).orElse(0);
            long mprotectSize = mem.word(v.start() + 24).orElse(0);
            boolean sizes = size > 0 && size <= mprotectSize && mprotectSize <= ARENA_BLOCK
                    && (mprotectSize & (Pages.size() - 1)) == 0;
            boolean linked = (arena > v.start() && arena < blockEnd) || (prev != 0 && (prev & (ARENA_BLOCK - 1)) == 0);
            return sizes && linked;
        } catch (RuntimeException e) {
            return false;
        }
    }
}
