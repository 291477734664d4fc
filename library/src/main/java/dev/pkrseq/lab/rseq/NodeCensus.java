package dev.pkrseq.lab.rseq;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemorySegment;
import java.util.BitSet;
import java.util.function.IntToLongFunction;

/**
 * What draining per-CPU structures of 16-byte nodes found once the workers are done: each node of the block
 * counted once, a node found again counted apart. A structure that lost a node comes up short; one that
 * handed a node out twice shows it twice.
 *
 * @param found distinct nodes found
 * @param twice nodes found again
 * @param sum the sum of the distinct nodes' first words (their data)
 */
public record NodeCensus(long found, long twice, long sum) {
    /**
     * Drains every slot, at most once more than there are nodes per slot, so that a cycle cannot hang it.
     *
     * @param nodes the block of nodes, 16 bytes each
     * @param count nodes in the block
     * @param slots the per-CPU slots to drain
     * @param drainOne takes one node from a slot, without rseq: its address, or 0 when the slot is empty
     * @return what was found
     */
    public static NodeCensus drain(MemorySegment nodes, int count, int slots, IntToLongFunction drainOne) {
        BitSet seen = new BitSet(count);
        long found = 0;
        long twice = 0;
        long sum = 0;
        for (int c = 0; c < slots; c++) {
            for (int guard = 0; guard <= count; guard++) {
                long n = drainOne.applyAsLong(c);
                if (n == 0) {
                    break;
                }
                int i = (int) ((n - nodes.address()) / 16);
                if (seen.get(i)) {
                    twice++;
                    continue;
                }
                seen.set(i);
                found++;
                sum += nodes.get(JAVA_LONG, 16L * i);
            }
        }
        return new NodeCensus(found, twice, sum);
    }
}
