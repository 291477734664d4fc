package dev.pkrseq.testing;

import java.util.BitSet;

import dev.pkrseq.sys.MemoryCalls;

/**
 * Anonymous private pages mapped with mmap(2) for one test, and unmapped by {@link #close()}. A page the
 * test unmapped through {@link #unmap(int)} is left alone then: another thread may have mapped something
 * of its own at that address meanwhile.
 */
public final class AnonPages implements AutoCloseable {
    private final long address;
    private final int count;
    private final BitSet unmapped = new BitSet();

    private AnonPages(long address, int count) {
        this.address = address;
        this.count = count;
    }

    /**
     * Maps pages.
     *
     * @param count how many pages
     * @param prot the PROT_* bits of {@link MemoryCalls}
     * @return the mapping
     */
    public static AnonPages map(int count, int prot) {
        return new AnonPages(MemoryCalls.mmap(0, count * MemoryCalls.pageSize(), prot,
                MemoryCalls.MAP_PRIVATE | MemoryCalls.MAP_ANONYMOUS, -1, 0), count);
    }

    /**
     * Maps read-write pages.
     *
     * @param count how many pages
     * @return the mapping
     */
    public static AnonPages readWrite(int count) {
        return map(count, MemoryCalls.PROT_READ | MemoryCalls.PROT_WRITE);
    }

    /**
     * The first page's address.
     *
     * @return the start of the range
     */
    public long address() {
        return address;
    }

    /**
     * The length of the whole range.
     *
     * @return its size in bytes
     */
    public long size() {
        return count * MemoryCalls.pageSize();
    }

    /**
     * The address of one of the pages.
     *
     * @param index from 0
     * @return its address
     */
    public long page(int index) {
        return address + index * MemoryCalls.pageSize();
    }

    /**
     * Unmaps one page now, leaving a hole in the range.
     *
     * @param index from 0
     */
    public void unmap(int index) {
        MemoryCalls.munmap(page(index), MemoryCalls.pageSize());
        unmapped.set(index);
    }

    /** Unmaps every page the test did not unmap itself. */
    @Override
    public void close() {
        for (int i = unmapped.nextClearBit(0); i < count; i = unmapped.nextClearBit(i + 1)) {
            MemoryCalls.munmap(page(i), MemoryCalls.pageSize());
        }
    }
}
