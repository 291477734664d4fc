/**
 * What the rseq package lends the lab and nobody else: not exported. Its experiments on the kernel's
 * checks call {@code rseq(2)} with arguments the kernel must refuse, guarded by the rseq package's
 * per-thread state, which stays package-private there.
 */
package dev.pkrseq.rseq.internal;
