package dev.pkrseq.rseq.percpu;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.LongAdder;

import dev.pkrseq.rseq.PerCpuOps;
import dev.pkrseq.rseq.PerCpuPool;

/**
 * What every structure of this package holds: its primitives, one pool item (a copy per CPU), the stride
 * between the copies, and the count of sections the kernel aborted and the structure made again.
 */
abstract class PerCpuStructure {
    final PerCpuOps ops;
    final long stride;
    final LongAdder restarts = new LongAdder();
    // Held, not just its segment, so that the item stays allocated as long as the structure lives.
    private final PerCpuPool.Item item;

    /**
     * Takes the structure's item from {@code pool}, which the subclass has checked (the strides first, with
     * {@link Structures#requireSameStride}, then its own arguments) in the expression it passes: a structure
     * refused takes no item.
     */
    PerCpuStructure(PerCpuOps ops, PerCpuPool pool) {
        this.ops = ops;
        this.item = pool.allocate();
        this.stride = pool.stride();
    }

    /** Every CPU's copy of the item, CPU 0's first. */
    final MemorySegment percpu() {
        return item.percpu();
    }

    /**
     * Critical sections the kernel aborted and the structure made again.
     *
     * @return the count since construction
     */
    public final long restarts() {
        return restarts.sum();
    }

    /**
     * The primitives the structure uses.
     *
     * @return the operations
     */
    public final PerCpuOps ops() {
        return ops;
    }

    /** {@code name[index, slots copies, restarts]}, for the subclasses' {@code toString}. */
    final String describe(String name, String copies) {
        return name + "[" + ops.index() + ", " + ops.slots() + " " + copies + ", " + restarts() + " restarts]";
    }
}
