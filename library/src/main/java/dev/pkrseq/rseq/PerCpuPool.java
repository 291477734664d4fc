package dev.pkrseq.rseq;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

import dev.pkrseq.sys.MemoryCalls;

/**
 * Per-CPU memory, after librseq's {@code rseq_mempool}: each allocation ({@link Item}) has one copy per
 * possible CPU, {@link #stride()} bytes apart ({@code slot(cpu) = CPU 0's copy + cpu × stride}, librseq's
 * {@code rseq_percpu_ptr}), zeroed, for {@link PerCpuOps} to work on. mm_cid-indexed data uses the same
 * pools: mm_cid stays below the number of possible CPUs.
 *
 * <p>Memory comes in chunks of {@code slots × stride} bytes from {@code mmap}: the kernel hands out a page
 * only when it is first touched, so a sparse pool costs address space, not memory. Items are placed at
 * the same offset in every CPU's range of a chunk, rounded up to a power of two (at least 8 bytes), so
 * items of one CPU sit together and two CPUs' copies never share a cache line. A chunk is unmapped once
 * the pool and every item and segment taken from it are unreachable: a section running on an item keeps
 * the item's segment, and with it the chunk, alive, so memory is never unmapped under one.
 *
 * <p><b>Freeing.</b> {@link #free(Item)} is safe against threads still inside a critical section on the
 * item: it fences every CPU ({@link RseqFence#fenceAll()}) before the item's place can be handed out again,
 * so no section that started before the free can commit into the next owner's data. It cannot stop a
 * thread from <em>starting</em> an operation on a freed item, any more than {@code free(3)} can: the
 * caller makes sure none will (the item then refuses its segments). Where the kernel has no rseq fence the
 * item's place is retired instead of reused, which is safe and leaks {@code itemSize} bytes per CPU.
 *
 * <p>Thread-safe: allocation and free take one lock.
 */
public final class PerCpuPool {
    /** The default stride: 64 KiB, the stride of the process-wide code ({@link PerCpuOps#DEFAULT_STRIDE}). */
    public static final long DEFAULT_STRIDE = PerCpuOps.DEFAULT_STRIDE;

    private final long itemSize;
    private final long stride;
    private final int slots;
    private final List<MemorySegment> chunks = new ArrayList<>();
    private final Deque<long[]> free = new ArrayDeque<>();
    private long next;
    private long allocated;
    private long retired;

    private PerCpuPool(long itemSize, long stride, int slots) {
        this.itemSize = itemSize;
        this.stride = stride;
        this.slots = slots;
    }

    /**
     * A pool of items of {@code itemSize} bytes per CPU, at the default stride, one copy per possible CPU.
     *
     * @param itemSize bytes per CPU; rounded up to a power of two, at least 8
     * @return the pool (no memory is mapped until the first allocation)
     * @throws IllegalArgumentException when the item does not fit the stride
     */
    public static PerCpuPool create(long itemSize) {
        return create(itemSize, DEFAULT_STRIDE);
    }

    /**
     * A pool of items of {@code itemSize} bytes per CPU, at a given stride. Operate on its items with a
     * {@link PerCpuOps} of the same stride.
     *
     * @param itemSize bytes per CPU; rounded up to a power of two, at least 8
     * @param stride bytes between two CPUs' copies: a power of two, at least the page size, at most 2^30
     * @return the pool
     * @throws IllegalArgumentException when the stride is not a power of two in range, or the item does not
     *     fit it
     */
    public static PerCpuPool create(long itemSize, long stride) {
        if (stride < MemoryCalls.pageSize() || Long.bitCount(stride) != 1 || stride > 1L << 30) {
            throw new IllegalArgumentException("stride must be a power of two from the page size (" + MemoryCalls.pageSize()
                    + ") to 2^30 bytes, not " + stride);
        }
        if (itemSize < 1 || itemSize > stride) {
            throw new IllegalArgumentException("itemSize must be 1 to the stride (" + stride + ") bytes, not " + itemSize);
        }
        long rounded = Math.max(8, Long.highestOneBit(itemSize - 1) << 1);
        if (itemSize == 1) {
            rounded = 8;
        }
        return new PerCpuPool(Math.min(rounded, stride), stride, RseqCode.possibleCpus());
    }

    /**
     * Allocates an item: zeroed on every CPU.
     *
     * @return the item
     */
    public synchronized Item allocate() {
        long[] place = free.pollFirst();
        if (place == null) {
            if (chunks.isEmpty() || next + itemSize > stride) {
                chunks.add(mapChunk());
                next = 0;
            }
            place = new long[] {chunks.size() - 1, next};
            next += itemSize;
        } else {
            // A freed place: the fence has run since its last section could commit; clear what it left.
            MemorySegment chunk = chunks.get((int) place[0]);
            for (int cpu = 0; cpu < slots; cpu++) {
                chunk.asSlice(cpu * stride + place[1], itemSize).fill((byte) 0);
            }
        }
        allocated++;
        return new Item(chunks.get((int) place[0]), (int) place[0], place[1]);
    }

    /**
     * Frees an item: fences every CPU so that no critical section begun on it can commit afterwards, then
     * lets its place be allocated again. The item refuses its segments from now on.
     *
     * @param item an item of this pool, not yet freed
     * @throws IllegalArgumentException when the item belongs to another pool
     * @throws IllegalStateException when it was freed already
     */
    public void free(Item item) {
        if (item.pool() != this) {
            throw new IllegalArgumentException("the item belongs to another pool");
        }
        synchronized (this) {
            if (item.freed) {
                throw new IllegalStateException("the item at offset " + item.offset + " was freed already");
            }
            item.freed = true;
        }
        boolean fenced;
        try {
            RseqFence.ensureRegistered();
            RseqFence.fenceAll();
            fenced = true;
        } catch (RseqFenceException e) {
            fenced = false;
        }
        synchronized (this) {
            allocated--;
            if (fenced) {
                free.addLast(new long[] {item.chunkIndex, item.offset});
            } else {
                retired++;
            }
        }
    }

    /**
     * Gives an item's place back without a fence: for an owner that knows no thread can be in a section on
     * it (it is unreachable).
     */
    synchronized void release(int chunk, long offset) {
        allocated--;
        free.addLast(new long[] {chunk, offset});
    }

    /**
     * Bytes per CPU of each item, as rounded.
     *
     * @return a power of two, at least 8
     */
    public long itemSize() {
        return itemSize;
    }

    /**
     * Bytes between two CPUs' copies.
     *
     * @return the stride
     */
    public long stride() {
        return stride;
    }

    /**
     * Copies per item: one per possible CPU.
     *
     * @return the slot count
     */
    public int slots() {
        return slots;
    }

    /**
     * Items allocated and not freed.
     *
     * @return the count
     */
    public synchronized long allocated() {
        return allocated;
    }

    /**
     * Places retired because a free found no rseq fence.
     *
     * @return the count, 0 where the kernel has the fence
     */
    public synchronized long retired() {
        return retired;
    }

    /**
     * Chunks mapped so far ({@code slots × stride} bytes of address space each).
     *
     * @return the count
     */
    public synchronized int chunks() {
        return chunks.size();
    }

    private MemorySegment mapChunk() {
        long length = slots * stride;
        long address = MemoryCalls.mmap(0, length, MemoryCalls.PROT_READ | MemoryCalls.PROT_WRITE, MemoryCalls.MAP_PRIVATE | MemoryCalls.MAP_ANONYMOUS, -1, 0);
        // Unmapped once nothing can reach the chunk: no section can be running on it then.
        return MemoryCalls.memory(address, length, Arena.ofAuto(), () -> MemoryCalls.munmap(address, length));
    }

    @Override
    public synchronized String toString() {
        return "PerCpuPool[item " + itemSize + " bytes, stride " + stride + ", " + slots + " slots, " + allocated
                + " allocated, " + chunks.size() + " chunks]";
    }

    /** One allocation: a datum of {@link #itemSize()} bytes with one copy per CPU. */
    public final class Item {
        private final MemorySegment chunk;
        private final int chunkIndex;
        private final long offset;
        private final MemorySegment percpu;
        private volatile boolean freed;

        Item(MemorySegment chunk, int chunkIndex, long offset) {
            this.chunk = chunk;
            this.chunkIndex = chunkIndex;
            this.offset = offset;
            this.percpu = chunk.asSlice(offset, (slots - 1) * stride + itemSize);
        }

        /**
         * The item as {@link PerCpuOps} takes it: from CPU 0's copy to the end of the last CPU's.
         *
         * @return the span segment ({@code (slots - 1) × stride + itemSize} bytes)
         * @throws IllegalStateException when the item was freed
         */
        public MemorySegment percpu() {
            checkLive();
            return percpu;
        }

        /**
         * One CPU's copy.
         *
         * @param cpu 0 to {@link #slots()} - 1
         * @return {@link #itemSize()} bytes
         * @throws IndexOutOfBoundsException for a CPU without a copy
         * @throws IllegalStateException when the item was freed
         */
        public MemorySegment slot(int cpu) {
            checkLive();
            if (cpu < 0 || cpu >= slots) {
                throw new IndexOutOfBoundsException("CPU " + cpu + " has no copy: the pool has " + slots + " slots");
            }
            return chunk.asSlice(cpu * stride + offset, itemSize);
        }

        /**
         * Where the item lies in each CPU's range.
         *
         * @return the offset from the start of a CPU's range
         */
        public long offset() {
            return offset;
        }

        /**
         * Whether {@link PerCpuPool#free} was called on it.
         *
         * @return true once freed
         */
        public boolean isFreed() {
            return freed;
        }

        /**
         * The pool it came from.
         *
         * @return the pool
         */
        public PerCpuPool pool() {
            return PerCpuPool.this;
        }

        int chunk() {
            return chunkIndex;
        }

        private void checkLive() {
            if (freed) {
                throw new IllegalStateException("the item at offset " + offset + " was freed; its memory may belong to"
                        + " another item now");
            }
        }

        @Override
        public String toString() {
            return "PerCpuPool.Item[offset " + offset + ", " + itemSize + " bytes × " + slots + (freed ? ", freed" : "")
                    + "]";
        }
    }
}
