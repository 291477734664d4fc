package dev.pkrseq.sys;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.pkrseq.Errno;
import dev.pkrseq.KeysExhaustedException;
import dev.pkrseq.NativeException;
import dev.pkrseq.UnavailableException;
import dev.pkrseq.proc.CpuInfo;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * Protection keys and PKRU: glibc's pkey_alloc, pkey_free, pkey_mprotect, pkey_get and pkey_set.
 *
 * <p>Raw calls: they check nothing beyond what keeps the JVM alive (PKRU instructions are refused where
 * the kernel did not enable them, because they would raise SIGILL). The pkey package builds the guarded,
 * typed API on them.
 */
public final class PkeyCalls {
    /** {@code PKEY_DISABLE_ACCESS}. */
    public static final int PKEY_DISABLE_ACCESS = 1;
    /** {@code PKEY_DISABLE_WRITE}. */
    public static final int PKEY_DISABLE_WRITE = 2;

    private static final MethodHandle PKEY_ALLOC =
            Native.errno("pkey_alloc", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle PKEY_FREE = Native.errno("pkey_free", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle PKEY_MPROTECT = Native.errno("pkey_mprotect",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT));
    private static final MethodHandle PKEY_GET = Native.critical("pkey_get", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle PKEY_GET_ERRNO =
            Native.errno("pkey_get", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle PKEY_SET =
            Native.critical("pkey_set", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle PKEY_SET_ERRNO =
            Native.errno("pkey_set", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));

    private static final Native.Critical GET = (cap, key, unused) -> cap == null
            ? (int) PKEY_GET.invokeExact(key) : (int) PKEY_GET_ERRNO.invokeExact(cap, key);
    private static final Native.IntArgs GET_ARGS = (key, unused) -> Integer.toString(key);
    private static final Native.Critical SET = (cap, key, rights) -> cap == null
            ? (int) PKEY_SET.invokeExact(key, rights) : (int) PKEY_SET_ERRNO.invokeExact(cap, key, rights);
    private static final Native.IntArgs SET_ARGS = (key, rights) -> key + ", " + Fmt.rights(rights);

    private PkeyCalls() {
    }

    /**
     * {@code pkey_alloc(flags, rights)}: allocates a protection key and sets the calling thread's rights.
     *
     * @param flags must be 0 today
     * @param rights initial rights for the calling thread: 0, {@link #PKEY_DISABLE_ACCESS} or
     *     {@link #PKEY_DISABLE_WRITE}
     * @return the key, 1 to 15 on x86_64
     * @throws KeysExhaustedException (ENOSPC) when no key is left
     * @throws NativeException EINVAL for bad arguments or where the kernel did not enable protection keys
     * @see <a href="https://man7.org/linux/man-pages/man2/pkey_alloc.2.html">pkey_alloc(2)</a>
     */
    public static int pkeyAlloc(int flags, int rights) {
        try {
            return (int) Native.call("pkey_alloc", () -> flags + ", " + Fmt.rights(rights),
                    cap -> (int) PKEY_ALLOC.invokeExact(cap, flags, rights));
        } catch (NativeException e) {
            // The one failure a caller acts on gets its own type, here at the boundary.
            if (e.errno() == Errno.ENOSPC) {
                throw new KeysExhaustedException(e.call(), e.arguments());
            }
            throw e;
        }
    }

    /**
     * {@code pkey_free(key)}. The kernel frees a key even while pages still carry it.
     *
     * @param key the key
     * @throws NativeException EINVAL when the key is not allocated
     * @see <a href="https://man7.org/linux/man-pages/man2/pkey_free.2.html">pkey_free(2)</a>
     */
    public static void pkeyFree(int key) {
        Native.call("pkey_free", () -> Integer.toString(key), cap -> (int) PKEY_FREE.invokeExact(cap, key));
    }

    /**
     * {@code pkey_mprotect(addr, len, prot, key)}: sets protection and key on a page range in one call.
     *
     * @param address page-aligned start
     * @param length bytes; the kernel rounds up to whole pages
     * @param prot {@code PROT_*} bits
     * @param key the key, or -1 to leave keys as they are (plain mprotect)
     * @throws NativeException ENOMEM when part of the range is not mapped, EINVAL for a bad key
     * @see <a href="https://man7.org/linux/man-pages/man2/pkey_mprotect.2.html">pkey_mprotect(2)</a>
     */
    public static void pkeyMprotect(long address, long length, int prot, int key) {
        Native.call("pkey_mprotect", () -> Fmt.hex(address) + ", " + length + ", " + Fmt.prot(prot) + ", key " + key,
                cap -> (int) PKEY_MPROTECT.invokeExact(cap, MemorySegment.ofAddress(address), length, prot, key));
    }

    /**
     * {@code pkey_mprotect(addr, len, prot, key)} over a native segment: the segment itself is passed to the
     * downcall, so the linker keeps its scope alive for the call. A shared arena cannot close while the call
     * runs (its {@code close()} throws IllegalStateException), and a segment whose arena closed before the
     * call fails before the kernel is entered, so the call never reaches memory that was unmapped and
     * perhaps mapped again by someone else.
     *
     * @param segment native, page-aligned; its whole length is changed
     * @param prot {@code PROT_*} bits
     * @param key the key, or -1 to leave keys as they are (plain mprotect)
     * @throws NativeException ENOMEM when part of the range is not mapped, EINVAL for a bad key
     * @throws IllegalStateException when the segment's arena is closed (from the linker, before the call)
     * @throws WrongThreadException for a segment of a confined arena owned by another thread
     * @throws IllegalArgumentException for a heap segment
     * @see <a href="https://man7.org/linux/man-pages/man2/pkey_mprotect.2.html">pkey_mprotect(2)</a>
     */
    public static void pkeyMprotect(MemorySegment segment, int prot, int key) {
        long length = segment.byteSize();
        Native.call("pkey_mprotect",
                () -> Fmt.hex(segment.address()) + ", " + length + ", " + Fmt.prot(prot) + ", key " + key,
                cap -> (int) PKEY_MPROTECT.invokeExact(cap, segment, length, prot, key));
    }

    /**
     * glibc's {@code pkey_get(key)}: the calling thread's rights for a key, read from PKRU (RDPKRU).
     * A critical downcall: it neither blocks nor calls back, and allocates nothing.
     *
     * @param key 0 to 15
     * @return 0, {@link #PKEY_DISABLE_ACCESS}, {@link #PKEY_DISABLE_WRITE} or both
     * @throws UnavailableException where the kernel did not enable protection keys
     * @throws NativeException EINVAL for a key outside 0 to 15
     * @see <a href="https://man7.org/linux/man-pages/man3/pkey_get.3.html">pkey_get(3)</a>
     */
    public static int pkeyGet(int key) {
        requirePkru();
        return Native.critical("pkey_get", GET_ARGS, GET, key, 0);
    }

    /**
     * glibc's {@code pkey_set(key, rights)}: sets the calling thread's rights for a key (RDPKRU, WRPKRU).
     * A critical downcall: it neither blocks nor calls back, and allocates nothing.
     *
     * @param key 0 to 15
     * @param rights 0, {@link #PKEY_DISABLE_ACCESS}, {@link #PKEY_DISABLE_WRITE} or both
     * @throws UnavailableException where the kernel did not enable protection keys
     * @throws NativeException EINVAL for a bad key or rights
     * @see <a href="https://man7.org/linux/man-pages/man3/pkey_set.3.html">pkey_set(3)</a>
     */
    public static void pkeySet(int key, int rights) {
        requirePkru();
        Native.critical("pkey_set", SET_ARGS, SET, key, rights);
    }

    /**
     * Whether this CPU and kernel let user code read and write PKRU. Where they do not, RDPKRU and
     * WRPKRU raise SIGILL, which would kill the JVM, so {@link #pkeyGet} and {@link #pkeySet} refuse.
     *
     * @return true when /proc/cpuinfo lists {@code ospke} (the kernel set CR4.PKE)
     */
    public static boolean pkruUsable() {
        return PkruSupport.USABLE;
    }

    private static void requirePkru() {
        if (!PkruSupport.USABLE) {
            throw new UnavailableException(UnavailableException.Feature.PKRU, "PKRU is not usable here: the kernel has not"
                    + " enabled protection keys (no 'ospke' flag in /proc/cpuinfo), so RDPKRU/WRPKRU would raise SIGILL"
                    + " and kill the JVM");
        }
    }

    /** Read once, on first PKRU use: the kernel sets the ospke flag exactly when it enabled CR4.PKE. */
    private static final class PkruSupport {
        static final boolean USABLE = CpuInfo.flags().contains("ospke");
    }
}
