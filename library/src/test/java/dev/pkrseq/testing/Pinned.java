package dev.pkrseq.testing;

import java.util.BitSet;

import dev.pkrseq.sys.ThreadCalls;

/**
 * This thread pinned to one CPU until {@link #close()} restores the affinity it had, so that a per-CPU
 * test knows which copy a call must touch.
 */
public final class Pinned implements AutoCloseable {
    private final BitSet original;

    private Pinned(BitSet original) {
        this.original = original;
    }

    /**
     * Pins the calling thread.
     *
     * @param cpu the one CPU it may run on
     * @return the pin, to close on the same thread
     */
    public static Pinned to(int cpu) {
        BitSet original = ThreadCalls.schedGetaffinity(0);
        BitSet one = new BitSet();
        one.set(cpu);
        ThreadCalls.schedSetaffinity(0, one);
        return new Pinned(original);
    }

    /**
     * The lowest CPU this thread may run on now.
     *
     * @return a CPU number from the thread's affinity mask
     */
    public static int firstAllowedCpu() {
        return ThreadCalls.schedGetaffinity(0).nextSetBit(0);
    }

    /** Restores the affinity the thread had before. */
    @Override
    public void close() {
        ThreadCalls.schedSetaffinity(0, original);
    }
}
