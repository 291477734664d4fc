package dev.pkrseq.rseq.percpu;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.lang.ref.Reference;

import dev.pkrseq.rseq.PerCpuOps;
import dev.pkrseq.rseq.PerCpuPool;

/**
 * The layout both rings share: per CPU, a state word holding the head and tail counters (32 bits each, so
 * that one comparison covers both) on a cache line of its own, then {@code capacity} slots of a fixed
 * spacing. The rings differ only in what a slot holds and which primitive moves it.
 */
abstract class RingStructure extends PerCpuStructure {
    static final VarHandle WORD = JAVA_LONG.varHandle();
    /** Where the slots start: the state word keeps its cache line to itself. */
    static final long SLOTS_AT = 64;

    final MemorySegment state;
    final MemorySegment[] slots;
    final int capacity;
    final int mask;
    final PerCpuOps.Order order;

    /** Takes the rings' item from {@code pool}, checked by the subclass as {@link PerCpuStructure} says. */
    RingStructure(PerCpuOps ops, PerCpuPool pool, int capacity, long spacing, PerCpuOps.Order order) {
        super(ops, pool);
        this.capacity = capacity;
        this.mask = capacity - 1;
        this.order = order;
        this.state = percpu();
        this.slots = new MemorySegment[capacity];
        for (int i = 0; i < capacity; i++) {
            slots[i] = state.asSlice(SLOTS_AT + spacing * i);
        }
    }

    /**
     * Entries in one CPU's ring now (a racy read).
     *
     * @param index the CPU (or mm_cid)
     * @return 0 to the capacity
     */
    public final int size(int index) {
        long s = (long) WORD.getOpaque(state, Structures.at(index, ops.slots(), stride));
        Reference.reachabilityFence(this);
        return tail(s) - head(s);
    }

    /**
     * Entries each CPU's ring holds at most.
     *
     * @return the capacity
     */
    public final int capacity() {
        return capacity;
    }

    static int head(long state) {
        return (int) (state >>> 32);
    }

    static int tail(long state) {
        return (int) state;
    }

    static long pack(int head, int tail) {
        return (long) head << 32 | (tail & 0xffffffffL);
    }
}
