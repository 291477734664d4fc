/**
 * What every subject of pkrseq shares: one error model and the platform facts.
 *
 * <p>A kernel failure is a {@link dev.pkrseq.NativeException} with the call, its arguments in C terms and
 * errno by name ({@link dev.pkrseq.Errno}); where a caller must act there is a subclass
 * ({@link dev.pkrseq.KeysExhaustedException}). A use pkrseq refuses because it would kill the JVM or corrupt
 * ownership is one of the sealed {@link dev.pkrseq.MisuseException} family, for protection keys and rseq
 * alike; a feature the machine lacks is {@link dev.pkrseq.UnavailableException} with its
 * {@link dev.pkrseq.UnavailableException.Feature}. {@link dev.pkrseq.Platform} answers page size, CPUs,
 * architecture, thread id, kernel and glibc versions; {@link dev.pkrseq.Mapping} is one line of
 * /proc/self/smaps with its protection key.
 */
package dev.pkrseq;
