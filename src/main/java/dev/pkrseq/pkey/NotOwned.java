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
            if (arenaLayout(v, first)) {
                return malloc(action, start, end, String.format("a glibc malloc arena (its heap at 0x%x, in anonymous%s %s)",
                        first & -ARENA_BLOCK, name, range));
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
     * Whether {@code address}, in anonymous mapping {@code v}, lies in a glibc malloc arena's heap: each heap
     * starts a 64 MiB-aligned block with glibc's {@code heap_info} ({@code ar_ptr, prev, size,
     * mprotect_size}), and its read-write part is the first {@code mprotect_size} bytes of the block. The
     * mapping as smaps shows it may be larger, where the kernel merged the heap with a neighbour of the same
     * protection, so the header is what decides. Read through /proc/self/mem, where a wrong guess is an error
     * and not a fault.
     */
    private static boolean arenaLayout(Vma v, long address) {
        long base = address & -ARENA_BLOCK;
        if (Long.compareUnsigned(base, v.start()) < 0) {
            return false;
        }
        // ar_ptr is the arena, inside the first heap of an arena; prev is the arena's previous heap, another block.
        // size and mprotect_size are page multiples up to the block (the arena may grow after the smaps read).
        try (SelfMemory mem = SelfMemory.open()) {
            long arena = mem.word(base).orElse(0);
            long prev = mem.word(base + 8).orElse(0);
            long size = mem.word(base + 16).orElse(0);
            long mprotectSize = mem.word(base + 24).orElse(0);
            boolean sizes = size > 0 && size <= mprotectSize && mprotectSize <= ARENA_BLOCK
                    && (mprotectSize & (Pages.size() - 1)) == 0;
            boolean linked = (arena > base && arena < base + ARENA_BLOCK) || (prev != 0 && (prev & (ARENA_BLOCK - 1)) == 0);
            return sizes && linked && Long.compareUnsigned(address, base + mprotectSize) < 0;
        } catch (RuntimeException e) {
            return false;
        }
    }
}
