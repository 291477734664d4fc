/**
 * Static thread-local storage: where a thread's TCB, static TLS blocks and DTV are, which pages a
 * retag rule covers, and retagging those pages with a protection key and restoring them.
 */
package dev.pkrseq.tls;
