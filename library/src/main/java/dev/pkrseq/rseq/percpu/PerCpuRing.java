package dev.pkrseq.rseq.percpu;

import java.lang.foreign.MemorySegment;
import java.lang.ref.Reference;

import dev.pkrseq.rseq.PerCpuOps;
import dev.pkrseq.rseq.PerCpuPool;

/**
 * A bounded FIFO ring buffer of pointers per CPU, for the kernel's {@code param_test -T b}: {@link #offer}
 * appends to the ring of the CPU the thread runs on, {@link #poll} takes the oldest entry of that CPU's
 * ring. Entries are non-zero {@code long}s (pointers, handles); 0 means "empty".
 *
 * <p>Each CPU's ring is one pool item: a state word holding the head and tail counters (32 bits each, so
 * that one comparison covers both), then {@code capacity} slots.
 * <ul>
 *   <li>offer: read the state; if not full, {@link PerCpuOps#compareStoreAndStore} (librseq's
 *       {@code load_cbne_store_store}): the state still as read, store the entry into slot {@code tail} (a
 *       speculative store), then the state with {@code tail + 1} (the commit, which publishes it);</li>
 *   <li>poll: read the state and the slot at {@code head}; if not empty,
 *       {@link PerCpuOps#compareBothAndStore} (librseq's {@code load_cbne_load_cbne_store}): the state and the
 *       slot still as read, store the state with {@code head + 1}.</li>
 * </ul>
 * A speculative store of an aborted offer lands in a slot outside {@code [head, tail)}, which no poll
 * reads; comparing the slot too (as param_test's buffer pop does) costs nothing and guards anyway.
 */
public final class PerCpuRing extends RingStructure {

    /**
     * Empty rings, one per CPU (or mm_cid).
     *
     * @param ops the primitives
     * @param pool where the rings come from; of the same stride as {@code ops}, items of at least
     *     {@link #bytesPerCpu(int) bytesPerCpu(capacity)}
     * @param capacity entries per CPU: a power of two, 1 to 2^20
     * @param order {@link PerCpuOps.Order#RELEASE} to order the caller's stores before an offer's commit
     * @throws IllegalArgumentException when the strides differ, or the capacity or the pool's items do not fit
     */
    public PerCpuRing(PerCpuOps ops, PerCpuPool pool, int capacity, PerCpuOps.Order order) {
        super(ops, fitting(ops, pool, capacity), capacity, 8, order);
    }

    private static PerCpuPool fitting(PerCpuOps ops, PerCpuPool pool, int capacity) {
        Structures.requireSameStride(ops, pool);
        Structures.requireCapacity(capacity);
        if (pool.itemSize() < bytesPerCpu(capacity)) {
            throw new IllegalArgumentException("a ring of " + capacity + " entries needs items of " + bytesPerCpu(capacity)
                    + " bytes; the pool's are " + pool.itemSize());
        }
        return pool;
    }

    /**
     * The bytes one CPU's ring of {@code capacity} entries takes: a pool's item size for it.
     *
     * @param capacity entries
     * @return 64 (the state, on a cache line of its own) + 8 per entry
     */
    public static long bytesPerCpu(int capacity) {
        return SLOTS_AT + 8L * capacity;
    }

    /**
     * Appends an entry to the ring of the CPU the thread runs on.
     *
     * @param value a non-zero entry
     * @return true when appended; false when that CPU's ring is full
     * @throws IllegalArgumentException for 0
     * @throws IllegalStateException when the thread's struct rseq gives no usable index
     */
    public boolean offer(long value) {
        if (value == 0) {
            throw new IllegalArgumentException("0 means empty: a PerCpuRing holds non-zero entries");
        }
        int index = Structures.hint(ops);
        for (;;) {
            long s = (long) WORD.getOpaque(state, index * stride);
            int head = head(s);
            int tail = tail(s);
            if (tail - head == capacity) {
                Reference.reachabilityFence(this);
                return false;
            }
            long r = ops.compareStoreAndStore(state, s, slots[tail & mask], value, pack(head, tail + 1), order);
            if (r >= 0) {
                Reference.reachabilityFence(this);
                return true;
            }
            index = Structures.retryIndex("PerCpuRing.offer()", r, index, restarts);
        }
    }

    /**
     * Takes the oldest entry of the ring of the CPU the thread runs on.
     *
     * @return the entry, or 0 when that CPU's ring is empty
     * @throws IllegalStateException when the thread's struct rseq gives no usable index
     */
    public long poll() {
        int index = Structures.hint(ops);
        for (;;) {
            long at = index * stride;
            long s = (long) WORD.getOpaque(state, at);
            int head = head(s);
            int tail = tail(s);
            if (head == tail) {
                Reference.reachabilityFence(this);
                return 0;
            }
            MemorySegment slot = slots[head & mask];
            long value = (long) WORD.getOpaque(slot, at);
            long r = ops.compareBothAndStore(state, s, slot, value, pack(head + 1, tail));
            if (r >= 0) {
                Reference.reachabilityFence(this);
                return value;
            }
            index = Structures.retryIndex("PerCpuRing.poll()", r, index, restarts);
        }
    }

    /**
     * Appends to one CPU's ring without a critical section: only while no thread offers or polls, for
     * example to fill the rings before the workers start.
     *
     * @param index the CPU (or mm_cid)
     * @param value a non-zero entry
     * @return true when appended, false when that ring is full
     */
    public boolean offerQuiescent(int index, long value) {
        if (value == 0) {
            throw new IllegalArgumentException("0 means empty: a PerCpuRing holds non-zero entries");
        }
        long at = Structures.at(index, ops.slots(), stride);
        long s = (long) WORD.get(state, at);
        int head = head(s);
        int tail = tail(s);
        if (tail - head == capacity) {
            return false;
        }
        WORD.set(slots[tail & mask], at, value);
        WORD.set(state, at, pack(head, tail + 1));
        return true;
    }

    /**
     * Takes the oldest entry of one CPU's ring without a critical section: only while no thread offers or
     * polls, for example to drain the rings after the workers were joined.
     *
     * @param index the CPU (or mm_cid)
     * @return the entry, or 0 when that ring is empty
     */
    public long pollQuiescent(int index) {
        long at = Structures.at(index, ops.slots(), stride);
        long s = (long) WORD.get(state, at);
        int head = head(s);
        if (head == tail(s)) {
            return 0;
        }
        long value = (long) WORD.get(slots[head & mask], at);
        WORD.set(state, at, pack(head + 1, tail(s)));
        return value;
    }

    @Override
    public String toString() {
        return describe("PerCpuRing", "rings of " + capacity);
    }
}
