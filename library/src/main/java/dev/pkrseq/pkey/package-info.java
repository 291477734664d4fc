/**
 * Linux memory protection keys: keys, per-thread rights, PKRU, page-backed memory, tagging and the
 * page walk.
 *
 * <p>The guards refuse, before any system call and by a named exception, whatever would kill the JVM:
 * denying key 0, denying a key that tags the calling thread's stack or TLS, PKRU from a virtual thread,
 * tagging memory pkrseq did not map or unaligned memory, freeing a key that pages still carry.
 *
 * @see <a href="https://man7.org/linux/man-pages/man7/pkeys.7.html">pkeys(7)</a>
 */
package dev.pkrseq.pkey;
