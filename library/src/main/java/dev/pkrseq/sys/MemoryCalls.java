package dev.pkrseq.sys;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.pkrseq.NativeException;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * Memory and file descriptors: mmap, munmap, mprotect, sysconf, pipe2, read, write, close, and the
 * restricted step of giving an address a size.
 */
@SuppressWarnings("restricted")
public final class MemoryCalls {
    /** {@code PROT_*} for mmap(2) and mprotect(2). */
    public static final int PROT_NONE = 0, PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
    /**
     * {@code MAP_*} for mmap(2): {@code MAP_PRIVATE}, {@code MAP_ANONYMOUS}, {@code MAP_POPULATE}, and
     * {@code MAP_FIXED_NOREPLACE}, which maps at exactly this address or fails with EEXIST.
     */
    public static final int MAP_PRIVATE = 0x02, MAP_ANONYMOUS = 0x20, MAP_POPULATE = 0x8000, MAP_FIXED_NOREPLACE = 0x100000;
    /** {@code O_*} for pipe2(2): {@code O_CLOEXEC}, {@code O_NONBLOCK}. */
    public static final int O_CLOEXEC = 0x80000, O_NONBLOCK = 0x800;

    static final int SC_PAGESIZE = 30, SC_NPROCESSORS_ONLN = 84;

    private static final MethodHandle MMAP = Native.errno("mmap",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle MUNMAP = Native.errno("munmap", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle MPROTECT =
            Native.errno("mprotect", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle SYSCONF = Native.errno("sysconf", FunctionDescriptor.of(JAVA_LONG, JAVA_INT));
    private static final MethodHandle PIPE2 = Native.errno("pipe2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle READ =
            Native.errno("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle WRITE =
            Native.errno("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle CLOSE = Native.errno("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));

    private static final long PAGE_SIZE = sysconf(SC_PAGESIZE);

    private MemoryCalls() {
    }

    /**
     * {@code mmap(addr, length, prot, flags, fd, offset)}.
     *
     * @param address hint or fixed address, 0 for any
     * @param length bytes
     * @param prot {@code PROT_*}
     * @param flags {@code MAP_*}
     * @param fd file descriptor, -1 for anonymous memory
     * @param offset file offset
     * @return the mapped address
     * @throws NativeException on failure (MAP_FAILED)
     * @see <a href="https://man7.org/linux/man-pages/man2/mmap.2.html">mmap(2)</a>
     */
    public static long mmap(long address, long length, int prot, int flags, int fd, long offset) {
        return Native.call("mmap", () -> Fmt.hex(address) + ", " + length + ", " + Fmt.prot(prot) + ", "
                + Fmt.mapFlags(flags) + ", " + fd + ", " + offset,
                cap -> ((MemorySegment) MMAP.invokeExact(cap, MemorySegment.ofAddress(address), length, prot, flags, fd,
                        offset)).address());
    }

    /**
     * {@code munmap(addr, length)}.
     *
     * @param address page-aligned start
     * @param length bytes
     * @see <a href="https://man7.org/linux/man-pages/man2/munmap.2.html">munmap(2)</a>
     */
    public static void munmap(long address, long length) {
        Native.call("munmap", () -> Fmt.hex(address) + ", " + length,
                cap -> (int) MUNMAP.invokeExact(cap, MemorySegment.ofAddress(address), length));
    }

    /**
     * {@code mprotect(addr, length, prot)}. On x86_64 it keeps each page's protection key, except that
     * {@code PROT_EXEC} alone moves the pages to the kernel's hidden execute-only key.
     *
     * @param address page-aligned start
     * @param length bytes
     * @param prot {@code PROT_*}
     * @see <a href="https://man7.org/linux/man-pages/man2/mprotect.2.html">mprotect(2)</a>
     */
    public static void mprotect(long address, long length, int prot) {
        Native.call("mprotect", () -> Fmt.hex(address) + ", " + length + ", " + Fmt.prot(prot),
                cap -> (int) MPROTECT.invokeExact(cap, MemorySegment.ofAddress(address), length, prot));
    }

    /**
     * The system page size, from {@code sysconf(_SC_PAGESIZE)}, read once.
     *
     * @return bytes per page, 4096 on x86_64
     */
    public static long pageSize() {
        return PAGE_SIZE;
    }

    /**
     * {@code sysconf(name)}.
     *
     * @see <a href="https://man7.org/linux/man-pages/man3/sysconf.3.html">sysconf(3)</a>
     */
    static long sysconf(int name) {
        return Native.call("sysconf", () -> name == SC_PAGESIZE ? "_SC_PAGESIZE"
                : name == SC_NPROCESSORS_ONLN ? "_SC_NPROCESSORS_ONLN" : Integer.toString(name),
                cap -> (long) SYSCONF.invokeExact(cap, name));
    }

    /**
     * A native segment over memory that pkrseq did not allocate: another thread's struct rseq, a loader
     * structure, a symbol. The caller answers for the address being mapped and alive.
     *
     * @param address start
     * @param size bytes
     * @return a segment of the global scope
     */
    public static MemorySegment memory(long address, long size) {
        return Native.reinterpret(address, size);
    }

    /**
     * A native segment over memory that pkrseq mapped itself, bound to an arena: when the arena closes,
     * the segment becomes inaccessible and {@code cleanup} runs (on the closing thread, or on a cleaner
     * thread for an automatic arena). This is how page-backed memory is unmapped with its arena.
     *
     * @param address start
     * @param size bytes
     * @param arena the arena whose closing ends the segment's life
     * @param cleanup what to run when the arena closes, for example an munmap; it must not throw
     * @return the segment, of the arena's scope
     * @throws IllegalStateException when the arena is already closed (the cleanup has then not run)
     */
    public static MemorySegment memory(long address, long size, Arena arena, Runnable cleanup) {
        return MemorySegment.ofAddress(address).reinterpret(size, arena, s -> cleanup.run());
    }

    /**
     * {@code pipe2(fds, flags)}.
     *
     * @param flags {@link #O_CLOEXEC}, {@link #O_NONBLOCK}
     * @return {read end, write end}
     * @see <a href="https://man7.org/linux/man-pages/man2/pipe2.2.html">pipe2(2)</a>
     */
    public static int[] pipe2(int flags) {
        MemorySegment fds = Native.scratch();
        Native.call("pipe2", () -> "fds, " + Fmt.hex(flags), cap -> (int) PIPE2.invokeExact(cap, fds, flags));
        return new int[] {fds.get(JAVA_INT, 0), fds.get(JAVA_INT, 4)};
    }

    /**
     * {@code read(fd, buf, count)}: the kernel writes into {@code buf}, with the calling thread's rights.
     *
     * @param fd file descriptor
     * @param buffer destination address
     * @param count bytes
     * @return bytes read
     * @throws NativeException EFAULT when the thread may not write {@code buf}
     * @see <a href="https://man7.org/linux/man-pages/man2/read.2.html">read(2)</a>
     */
    public static long read(int fd, long buffer, long count) {
        return Native.call("read", () -> fd + ", " + Fmt.hex(buffer) + ", " + count,
                cap -> (long) READ.invokeExact(cap, fd, MemorySegment.ofAddress(buffer), count));
    }

    /**
     * {@code write(fd, buf, count)}: the kernel reads from {@code buf}, with the calling thread's rights.
     *
     * @param fd file descriptor
     * @param buffer source address
     * @param count bytes
     * @return bytes written
     * @throws NativeException EFAULT when the thread may not read {@code buf}
     * @see <a href="https://man7.org/linux/man-pages/man2/write.2.html">write(2)</a>
     */
    public static long write(int fd, long buffer, long count) {
        return Native.call("write", () -> fd + ", " + Fmt.hex(buffer) + ", " + count,
                cap -> (long) WRITE.invokeExact(cap, fd, MemorySegment.ofAddress(buffer), count));
    }

    /**
     * {@code close(fd)}.
     *
     * @param fd file descriptor
     * @see <a href="https://man7.org/linux/man-pages/man2/close.2.html">close(2)</a>
     */
    public static void close(int fd) {
        Native.call("close", () -> Integer.toString(fd), cap -> (int) CLOSE.invokeExact(cap, fd));
    }
}
