package dev.pkrseq.observe;

import java.lang.foreign.MemorySegment;

import dev.pkrseq.sys.Errno;
import dev.pkrseq.sys.NativeException;
import dev.pkrseq.sys.Sys;

/**
 * Asks the kernel, not Java, whether the calling thread may read or write memory.
 *
 * <p>Java code that touches a page its thread may not access dies by SIGSEGV, and HotSpot owns that
 * signal. The kernel's copies to and from user memory obey the same PKRU rights but fail politely:
 * {@code write(pipe, p, n)} returns EFAULT when the thread may not read {@code p}, and
 * {@code read(pipe, p, n)} returns EFAULT when it may not write {@code p}. So these probes move bytes
 * through a fresh pipe. /dev/null, process_vm_readv and /proc/self/mem cannot serve: they ignore
 * protection keys or never touch the buffer.
 *
 * <p>The answer holds for the calling thread only, because PKRU is per thread; call the probe on the
 * thread whose rights you want to know. The write probe puts back the bytes it read, so the memory is
 * unchanged. EFAULT also means "not mapped": probe only memory you know is mapped.
 */
public final class AccessProbe {
    /** The most a probe moves in one go: at most PIPE_BUF, so each pipe write is atomic. */
    public static final int MAX_LENGTH = 4096;

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
     * Whether the kernel may write {@code length} bytes at {@code address} on this thread's behalf. The
     * probe first reads the bytes into the pipe and writes those same bytes back, so nothing changes.
     * Where the thread may not even read the memory, nothing is written: on x86 a thread that cannot
     * read a page cannot write it either.
     *
     * @param address start of mapped memory
     * @param length 1 to {@link #MAX_LENGTH} bytes
     * @return false when the kernel's write faulted (EFAULT)
     */
    public static boolean canWrite(long address, int length) {
        checkLength(length);
        int[] pipe = Sys.pipe2(Sys.O_CLOEXEC | Sys.O_NONBLOCK);
        try {
            if (!kernelReads(pipe, address, length)) {
                return false;
            }
            try {
                Sys.read(pipe[0], address, length);
                return true;
            } catch (NativeException e) {
                if (e.errno() == Errno.EFAULT) {
                    return false;
                }
                throw e;
            }
        } finally {
            Sys.close(pipe[0]);
            Sys.close(pipe[1]);
        }
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
     * Probes a native segment's first bytes, up to one page, leaving them unchanged.
     *
     * @param segment mapped native memory
     * @return whether the kernel may write it for this thread
     */
    public static boolean canWrite(MemorySegment segment) {
        return canWrite(segment.address(), (int) Math.min(segment.byteSize(), MAX_LENGTH));
    }

    /** Writes the memory into the pipe, so the kernel reads it for this thread: false when that read faulted (EFAULT). */
    private static boolean kernelReads(int[] pipe, long address, int length) {
        try {
            Sys.write(pipe[1], address, length);
            return true;
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
