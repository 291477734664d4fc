/**
 * The lab: experiments that show what the kernel does with protection keys, rseq and static TLS,
 * the probe report, the kernel-side access probe, the fault probe and the child JVMs that run whatever
 * must really fault.
 *
 * <p>In-process experiments never touch memory their thread may not access: access is checked by the
 * kernel ({@link dev.pkrseq.lab.AccessProbe}), and a real fault runs in a child JVM
 * ({@link dev.pkrseq.lab.ChildJvm}). Every experiment leaves nothing behind: keys freed, pages
 * unmapped, PKRU restored, its own rseq areas unregistered.
 */
package dev.pkrseq.lab;
