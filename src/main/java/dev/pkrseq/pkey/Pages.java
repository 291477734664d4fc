package dev.pkrseq.pkey;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import dev.pkrseq.sys.Sys;

/**
 * Page-backed memory: anonymous pages from mmap, unmapped when their arena closes.
 *
 * <p>Such a segment starts on a page boundary and is a whole number of pages, and its pages are shared
 * with no malloc chunk and no Java object: tagging them affects nothing else. That is what tagging
 * needs; {@link Arena#allocate} gives no such guarantee.
 */
public final class Pages {
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
     * @throws IllegalArgumentException when count is below 1 or the size overflows
     * @throws IllegalStateException when the arena is closed
     * @throws dev.pkrseq.sys.NativeException when mmap fails (ENOMEM)
     */
    public static MemorySegment allocate(Arena arena, long count) {
        if (count < 1) {
            throw new IllegalArgumentException("page count must be at least 1, not " + count);
        }
        if (!arena.scope().isAlive()) {
            throw new IllegalStateException("cannot map pages for a closed arena");
        }
        long bytes;
        try {
            bytes = Math.multiplyExact(count, size());
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(count + " pages do not fit in a long number of bytes", e);
        }
        long address = Sys.mmap(0, bytes, Sys.PROT_READ | Sys.PROT_WRITE, Sys.MAP_PRIVATE | Sys.MAP_ANONYMOUS, -1, 0);
        try {
            return Sys.memory(address, bytes, arena, () -> unmap(address, bytes));
        } catch (RuntimeException e) {
            Sys.munmap(address, bytes);
            throw e;
        }
    }

    private static void unmap(long address, long bytes) {
        TagRegistry.assign(address, address + bytes, 0);
        Sys.munmap(address, bytes);
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
