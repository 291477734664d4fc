package dev.pkrseq.rseq;

import java.util.OptionalInt;

/**
 * One reading of a thread's struct rseq through an {@link RseqView}.
 *
 * @param tid the owning thread's kernel task id
 * @param cpuIdStart {@code cpu_id_start}
 * @param cpuId {@code cpu_id}: the CPU the thread last ran on
 * @param nodeId {@code node_id}, empty when the registration does not cover it
 * @param mmCid {@code mm_cid}, empty when the registration does not cover it
 */
public record RseqSample(int tid, int cpuIdStart, int cpuId, OptionalInt nodeId, OptionalInt mmCid) {
}
