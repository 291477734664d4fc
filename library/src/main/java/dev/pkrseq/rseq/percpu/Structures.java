package dev.pkrseq.rseq.percpu;

import java.util.concurrent.atomic.LongAdder;

import dev.pkrseq.rseq.PerCpuOps;
import dev.pkrseq.rseq.PerCpuPool;

/** What the structures share: argument checks and the one way an unexpected result is reported. */
final class Structures {
    private Structures() {
    }

    /** The pool, once it agrees with the operations on the stride and the slots. */
    static PerCpuPool requireSameStride(PerCpuOps ops, PerCpuPool pool) {
        if (ops.stride() != pool.stride() || ops.slots() != pool.slots()) {
            throw new IllegalArgumentException("the operations (stride " + ops.stride() + ", " + ops.slots()
                    + " slots) and the pool (stride " + pool.stride() + ", " + pool.slots() + " slots) must agree");
        }
        return pool;
    }

    /** A ring's capacity: a power of two, so that a counter masks to its slot. */
    static void requireCapacity(int capacity) {
        if (capacity < 1 || capacity > 1 << 20 || Integer.bitCount(capacity) != 1) {
            throw new IllegalArgumentException("capacity must be a power of two from 1 to 2^20, not " + capacity);
        }
    }

    /** The offset of one index's copy, checked. */
    static long at(int index, int slots, long stride) {
        if (index < 0 || index >= slots) {
            throw new IndexOutOfBoundsException("index " + index + " has no copy: there are " + slots);
        }
        return index * stride;
    }

    /** A guess of where the next section runs: the thread's current index, or 0 before it has one. */
    static int hint(PerCpuOps ops) {
        int i = ops.currentIndex();
        return i >= 0 && i < ops.slots() ? i : 0;
    }

    /**
     * Where a failed section is tried next: the index it reported after a failed comparison (the thread ran
     * elsewhere), the same one after the kernel aborted it (counted in {@code restarts}); any other result
     * no retry can fix.
     */
    static int retryIndex(String what, long result, int index, LongAdder restarts) {
        switch (PerCpuOps.status(result)) {
            case COMPARISON_FAILED -> {
                return PerCpuOps.index(result);
            }
            case ABORTED -> {
                restarts.increment();
                return index;
            }
            default -> throw failed(what, result);
        }
    }

    /** A result no retry can fix: no slot (the thread is not registered), or a pointer out of its region. */
    static IllegalStateException failed(String what, long result) {
        PerCpuOps.Status s = PerCpuOps.status(result);
        return new IllegalStateException(what + ": " + s + switch (s) {
            case NO_SLOT -> ": the thread's struct rseq reads index " + PerCpuOps.index(result)
                    + ", which has no copy (not registered, or beyond the slots); nothing was changed";
            case BAD_POINTER -> ": the section found a pointer outside the region it may follow (the structure's data"
                    + " is corrupt); nothing was changed";
            default -> "";
        });
    }
}
