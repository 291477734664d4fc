/**
 * Readers of /proc for the calling process: /proc/self/smaps with each mapping's protection key,
 * the tasks of the process, /proc/self/mem.
 *
 * @see <a href="https://man7.org/linux/man-pages/man5/proc.5.html">proc(5)</a>
 */
package dev.pkrseq.proc;
