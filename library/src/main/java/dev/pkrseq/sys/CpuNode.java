package dev.pkrseq.sys;

/**
 * What {@code getcpu(2)} reports.
 *
 * @param cpu the CPU the thread ran on during the call
 * @param node that CPU's NUMA node
 */
public record CpuNode(int cpu, int node) {
}
