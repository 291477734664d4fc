/**
 * The pkrseq command line: picocli commands (probe, pkeys, rseq, tls, percpu, watch) that print the
 * library's reports as text tables or as JSON (Jackson).
 */
package dev.pkrseq.cli;
