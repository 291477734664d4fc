package dev.pkrseq.rseq;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The three pieces {@link PerCpuOps#addIndirect} reads: a shared pointer to per-CPU entries, and each
 * CPU's entry pointing at its own 16-byte target.
 *
 * @param entries the per-CPU entries (an item of a pool)
 * @param targets one 16-byte target per slot, in slot order
 * @param ptr the shared word that holds the entries' address
 */
record Indirection(PerCpuPool.Item entries, MemorySegment targets, MemorySegment ptr) {
    /** Entries at an offset in a fresh item of the pool, each CPU's pointing at its target; ptr points at them. */
    static Indirection of(PerCpuPool pool, long entryOffset) {
        PerCpuPool.Item entries = pool.allocate();
        MemorySegment targets = Arena.ofAuto().allocate(16L * pool.slots(), 16);
        for (int c = 0; c < pool.slots(); c++) {
            entries.slot(c).set(JAVA_LONG, entryOffset, targets.address() + 16L * c);
        }
        MemorySegment ptr = Arena.ofAuto().allocate(8, 8);
        ptr.set(JAVA_LONG, 0, entries.percpu().address());
        return new Indirection(entries, targets, ptr);
    }

    /** The first word of a slot's target. */
    long target(long slot) {
        return targets.get(JAVA_LONG, 16L * slot);
    }
}
