package dev.pkrseq.observe;

import java.lang.foreign.MemorySegment;

import dev.pkrseq.sys.Errno;
import dev.pkrseq.sys.NativeException;
import dev.pkrseq.sys.Sys;

/**
 * Asks the kernel, not Java, whether the calling thread may read or write memory.
 *
 * <p>Java code that touches a page its thread may not access dies by SIGSEGV, and HotSpot owns that
 * signal. The kernel's accesses to user memory on a thread's behalf obey the same PKRU rights but fail
 * politely, with EFAULT. /dev/null, process_vm_readv and /proc/self/mem cannot serve: they ignore
 * protection keys or never touch the buffer.
 * <ul>
 *   <li><b>Read</b>: {@code write(pipe, p, n)} makes the kernel read {@code p} into a fresh pipe; it fails
 *       with EFAULT (or stops short) when the thread may not read {@code p}. The memory is only read.</li>
 *   <li><b>Write</b>: {@code futex(FUTEX_WAKE_OP)} makes the kernel add zero, atomically ({@code lock xadd}),
 *       to one aligned 4-byte word on each page of the range; it fails with EFAULT when the thread may not
 *       write the page (the kernel's retry asks {@code arch_vma_access_permitted}, that is PKRU, and the
 *       page's protection). An atomic add of zero changes no byte, even with other threads writing the
 *       same word at the same moment: no update is lost. It does count as a write for the memory system:
 *       an untouched anonymous page gets its own zeroed frame, a private file page its own copy, and a
 *       thread waiting on that word with {@code FUTEX_WAIT} may see a spurious wakeup if the word holds
 *       {@value #WAKE_OP_COMPARE} (futex waiters must tolerate those anyway).</li>
 * </ul>
 *
 * <p>The answer holds for the calling thread only, because PKRU is per thread; call the probe on the
 * thread whose rights you want to know. EFAULT also means "not mapped": probe only memory you know is
 * mapped.
 */
public final class AccessProbe {
    /** The most a probe covers in one go: at most PIPE_BUF, so the read probe's pipe write is atomic. */
    public static final int MAX_LENGTH = 4096;

    /**
     * The comparison argument of the write probe's FUTEX_WAKE_OP: the kernel wakes a waiter on the probed
     * word only when the word equals it, and the probe asks for none; an unlikely value keeps even that
     * spurious wakeup unlikely.
     */
    static final int WAKE_OP_COMPARE = -1365;

    private AccessProbe() {
    }

    /**
     * Whether the kernel may read {@code length} bytes at {@code address} on this thread's behalf.
     *
     * @param address start of mapped memory
     * @param length 1 to {@link #MAX_LENGTH} bytes
     * @return false when the kernel's read faulted (EFAULT)
     */
    public static boolean canRead(long address, int length) {
        checkLength(length);
        int[] pipe = Sys.pipe2(Sys.O_CLOEXEC | Sys.O_NONBLOCK);
        try {
            // The bytes stay in the pipe: closing it discards them.
            return kernelReads(pipe, address, length);
        } finally {
            Sys.close(pipe[0]);
            Sys.close(pipe[1]);
        }
    }

    /**
     * Whether the kernel may write {@code length} bytes at {@code address} on this thread's behalf. On each
     * page the range touches, the kernel adds zero atomically to one aligned 4-byte word (the first in the
     * range on that page, or the one that holds the range's first byte): no byte changes, and a concurrent
     * writer loses no update. Where the thread may not write, nothing is written.
     *
     * @param address start of mapped memory
     * @param length 1 to {@link #MAX_LENGTH} bytes
     * @return false when the kernel's write faulted (EFAULT)
     */
    public static boolean canWrite(long address, int length) {
        checkLength(length);
        long page = Sys.pageSize();
        int addZero = Sys.futexOp(Sys.FUTEX_OP_ADD, 0, Sys.FUTEX_OP_CMP_EQ, WAKE_OP_COMPARE);
        long end = address + length;
        for (long p = address & -page; Long.compareUnsigned(p, end) < 0; p += page) {
            // An aligned word never crosses a page, so it lies on the page even when it begins before the range.
            long word = Math.max(p, address) & ~3L;
            try {
                Sys.futexWakeOp(word, addZero);
            } catch (NativeException e) {
                if (e.errno() == Errno.EFAULT) {
                    return false;
                }
                throw e;
            }
        }
        return true;
    }

    /**
     * Probes a native segment's first bytes, up to one page.
     *
     * @param segment mapped native memory
     * @return whether the kernel may read it for this thread
     */
    public static boolean canRead(MemorySegment segment) {
        return canRead(segment.address(), (int) Math.min(segment.byteSize(), MAX_LENGTH));
    }

    /**
     * Probes a native segment's first bytes, up to one page, changing none of them.
     *
     * @param segment mapped native memory
     * @return whether the kernel may write it for this thread
     */
    public static boolean canWrite(MemorySegment segment) {
        return canWrite(segment.address(), (int) Math.min(segment.byteSize(), MAX_LENGTH));
    }

    /**
     * Writes the memory into the pipe, so the kernel reads it for this thread: false when that read faulted
     * (EFAULT), or stopped short at a page it may not read after reading the ones before.
     */
    private static boolean kernelReads(int[] pipe, long address, int length) {
        try {
            return Sys.write(pipe[1], address, length) == length;
        } catch (NativeException e) {
            if (e.errno() == Errno.EFAULT) {
                return false;
            }
            throw e;
        }
    }

    /** A probe's answer as the reports print it: "ok", or "EFAULT" when the kernel's access faulted. */
    static String efault(boolean allowed) {
        return allowed ? "ok" : "EFAULT";
    }

    private static void checkLength(int length) {
        if (length < 1 || length > MAX_LENGTH) {
            throw new IllegalArgumentException("probe length must be 1 to " + MAX_LENGTH + " bytes, not " + length);
        }
    }
}
