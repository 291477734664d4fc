/**
 * Restartable sequences: a thread's struct rseq read as plain loads, pkrseq's own registration and
 * its pool, the kernel's refusals explained, and generated per-CPU critical sections
 * ({@link dev.pkrseq.rseq.PerCpuCounter}).
 *
 * <p>pkrseq never writes the fields the kernel owns (cpu_id_start, cpu_id, node_id, mm_cid).
 *
 * @see <a href="https://man7.org/linux/man-pages/man2/rseq.2.html">rseq(2)</a>
 */
package dev.pkrseq.rseq;
