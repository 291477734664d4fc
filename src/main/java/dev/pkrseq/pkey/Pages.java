package dev.pkrseq.pkey;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import dev.pkrseq.sys.Sys;

/**
 * Page-backed memory: anonymous pages from mmap, unmapped when their arena closes.
 *
 * <p>Such a segment starts on a page boundary and is a whole number of pages, and its pages are shared
 * with no malloc chunk and no Java object: tagging them affects nothing else. That is what tagging
 * needs; {@link Arena#allocate} gives no such guarantee. pkrseq records each mapping it makes until its
 * arena closes, and tags without {@link Hazard#MAY_KILL_THIS_JVM} only memory so recorded, through the
 * returned segment or slices of it.
 *
 * <p>Unmap these pages only by closing the arena. A {@code munmap} of them by other code (a raw
 * {@link Sys#munmap}, a foreign call) is outside what pkrseq can see: it would still take the pages for
 * its own, tag them and unmap them, although they may by then be someone else's.
 */
public final class Pages {
    /**
     * The most pages one call maps: 128 TiB, the user address space of x86_64 with 4-level paging. Larger
     * counts could never be served and are refused before mmap.
     */
    public static final long MAX_COUNT = (1L << 47) / 4096;

    private Pages() {
    }

    /**
     * The page size.
     *
     * @return bytes per page, 4096 on x86_64
     */
    public static long size() {
        return Sys.pageSize();
    }

    /**
     * Maps fresh anonymous pages, readable and writable, zero-filled. One mmap call; the arena's close
     * calls munmap (for an automatic arena, when the segment becomes unreachable).
     *
     * @param arena the arena whose closing unmaps the pages
     * @param count how many pages, at least 1
     * @return a native segment of {@code count * size()} bytes, page-aligned
     * @throws IllegalArgumentException when count is below 1 or above {@link #MAX_COUNT}
     * @throws IllegalStateException when the arena is closed
     * @throws dev.pkrseq.sys.NativeException when mmap fails (ENOMEM: more than the kernel will reserve)
     */
    public static MemorySegment allocate(Arena arena, long count) {
        if (count < 1) {
            throw new IllegalArgumentException("page count must be at least 1, not " + count);
        }
        if (count > MAX_COUNT) {
            throw new IllegalArgumentException("cannot map " + count + " pages: a process has at most " + MAX_COUNT
                    + " pages (128 TiB) of user address space on x86_64");
        }
        if (!arena.scope().isAlive()) {
            throw new IllegalStateException("cannot map pages for a closed arena");
        }
        long bytes = count * size();
        long address = Sys.mmap(0, bytes, Sys.PROT_READ | Sys.PROT_WRITE, Sys.MAP_PRIVATE | Sys.MAP_ANONYMOUS, -1, 0);
        return OwnedPages.adopt(address, bytes, arena);
    }

    /**
     * How many pages a segment covers.
     *
     * @param segment any segment
     * @return {@code byteSize / size()}, rounded up
     */
    public static long count(MemorySegment segment) {
        return (segment.byteSize() + size() - 1) / size();
    }

    /**
     * One page of a page-backed segment.
     *
     * @param segment a page-aligned segment
     * @param index 0 for the first page
     * @return a one-page slice
     */
    public static MemorySegment page(MemorySegment segment, long index) {
        return segment.asSlice(index * size(), size());
    }
}
