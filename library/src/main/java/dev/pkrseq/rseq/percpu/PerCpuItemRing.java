package dev.pkrseq.rseq.percpu;

import java.lang.foreign.MemorySegment;
import java.lang.ref.Reference;

import dev.pkrseq.rseq.PerCpuOps;
import dev.pkrseq.rseq.PerCpuPool;

/**
 * A bounded FIFO ring buffer of fixed-size items per CPU, copied in and out, for the kernel's
 * {@code param_test -T m}: {@link #offer} copies an item into the ring of the CPU the thread runs on,
 * {@link #poll} copies the oldest item of that CPU's ring out.
 *
 * <p>The same layout as {@link PerCpuRing} (a state word with head and tail, then the slots), with
 * {@link PerCpuOps#compareCopyInAndStore} for offer (the state still as read: copy the item into slot
 * {@code tail}, then publish {@code tail + 1}) and {@link PerCpuOps#compareCopyOutAndStore} for poll (the
 * state still as read: copy slot {@code head} out, then {@code head + 1}), both librseq's
 * {@code load_cbne_memcpy_store}. The copy happens inside the section, so a poll never returns an item
 * half-overwritten; an aborted copy is simply made again.
 */
public final class PerCpuItemRing extends RingStructure {
    private final long itemSize;

    /**
     * Empty rings, one per CPU (or mm_cid).
     *
     * @param ops the primitives
     * @param pool where the rings come from; of the same stride as {@code ops}, items of at least
     *     {@link #bytesPerCpu(int, long)}
     * @param capacity items per CPU: a power of two, 1 to 2^20
     * @param itemSize bytes per item, 1 to {@link PerCpuOps#MAX_COPY}
     * @param order {@link PerCpuOps.Order#RELEASE} to order the caller's stores before an offer's commit
     * @throws IllegalArgumentException when the strides differ, or the sizes do not fit
     */
    public PerCpuItemRing(PerCpuOps ops, PerCpuPool pool, int capacity, long itemSize, PerCpuOps.Order order) {
        super(ops, fitting(ops, pool, capacity, itemSize), capacity, spacing(itemSize), order);
        this.itemSize = itemSize;
    }

    private static PerCpuPool fitting(PerCpuOps ops, PerCpuPool pool, int capacity, long itemSize) {
        Structures.requireSameStride(ops, pool);
        Structures.requireCapacity(capacity);
        if (itemSize < 1 || itemSize > PerCpuOps.MAX_COPY) {
            throw new IllegalArgumentException("itemSize must be 1 to " + PerCpuOps.MAX_COPY + " bytes, not " + itemSize);
        }
        if (pool.itemSize() < bytesPerCpu(capacity, itemSize)) {
            throw new IllegalArgumentException("a ring of " + capacity + " items of " + itemSize + " bytes needs pool items"
                    + " of " + bytesPerCpu(capacity, itemSize) + " bytes; the pool's are " + pool.itemSize());
        }
        return pool;
    }

    /**
     * The bytes one CPU's ring takes: a pool's item size for it.
     *
     * @param capacity items
     * @param itemSize bytes per item
     * @return 64 (the state) + capacity × the item size rounded up to 8
     */
    public static long bytesPerCpu(int capacity, long itemSize) {
        return SLOTS_AT + spacing(itemSize) * capacity;
    }

    private static long spacing(long itemSize) {
        return (itemSize + 7) & ~7L;
    }

    /**
     * Copies an item into the ring of the CPU the thread runs on.
     *
     * @param from the item's bytes, at least {@link #itemSize()}
     * @return true when appended; false when that CPU's ring is full
     * @throws IllegalStateException when the thread's struct rseq gives no usable index
     */
    public boolean offer(MemorySegment from) {
        int index = Structures.hint(ops);
        for (;;) {
            long s = (long) WORD.getOpaque(state, index * stride);
            int head = head(s);
            int tail = tail(s);
            if (tail - head == capacity) {
                Reference.reachabilityFence(this);
                return false;
            }
            long r = ops.compareCopyInAndStore(state, s, slots[tail & mask], from, itemSize,
                    pack(head, tail + 1), order);
            if (r >= 0) {
                Reference.reachabilityFence(this);
                return true;
            }
            index = Structures.retryIndex("PerCpuItemRing.offer()", r, index, restarts);
        }
    }

    /**
     * Copies the oldest item of the ring of the CPU the thread runs on out, and removes it.
     *
     * @param into where the bytes go, at least {@link #itemSize()}; on false, unspecified
     * @return true when an item was taken; false when that CPU's ring is empty
     * @throws IllegalStateException when the thread's struct rseq gives no usable index
     */
    public boolean poll(MemorySegment into) {
        int index = Structures.hint(ops);
        for (;;) {
            long s = (long) WORD.getOpaque(state, index * stride);
            int head = head(s);
            int tail = tail(s);
            if (head == tail) {
                Reference.reachabilityFence(this);
                return false;
            }
            long r = ops.compareCopyOutAndStore(state, s, into, slots[head & mask], itemSize, pack(head + 1, tail),
                    PerCpuOps.Order.RELAXED);
            if (r >= 0) {
                Reference.reachabilityFence(this);
                return true;
            }
            index = Structures.retryIndex("PerCpuItemRing.poll()", r, index, restarts);
        }
    }

    /**
     * Copies an item into one CPU's ring without a critical section: only while no thread offers or polls,
     * for example to fill the rings before the workers start.
     *
     * @param index the CPU (or mm_cid)
     * @param from the item's bytes
     * @return true when appended, false when that ring is full
     */
    public boolean offerQuiescent(int index, MemorySegment from) {
        long at = Structures.at(index, ops.slots(), stride);
        long s = (long) WORD.get(state, at);
        int head = head(s);
        int tail = tail(s);
        if (tail - head == capacity) {
            return false;
        }
        MemorySegment.copy(from, 0, slots[tail & mask], at, itemSize);
        WORD.set(state, at, pack(head, tail + 1));
        return true;
    }

    /**
     * Copies the oldest item of one CPU's ring out without a critical section: only while no thread offers
     * or polls.
     *
     * @param index the CPU (or mm_cid)
     * @param into where the bytes go
     * @return true when an item was taken; false when that ring is empty
     */
    public boolean pollQuiescent(int index, MemorySegment into) {
        long at = Structures.at(index, ops.slots(), stride);
        long s = (long) WORD.get(state, at);
        int head = head(s);
        if (head == tail(s)) {
            return false;
        }
        MemorySegment.copy(slots[head & mask], at, into, 0, itemSize);
        WORD.set(state, at, pack(head + 1, tail(s)));
        return true;
    }

    /**
     * Bytes per item.
     *
     * @return the item size
     */
    public long itemSize() {
        return itemSize;
    }

    @Override
    public String toString() {
        return describe("PerCpuItemRing", "rings of " + capacity + " × " + itemSize + " bytes");
    }
}
