package dev.pkrseq.sys;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import dev.pkrseq.NativeException;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;

/**
 * The native calls of the kernel-path matrix ({@code pkrseq pkeys --kernel-paths}): every system call
 * through which the kernel reads or writes user memory on the calling thread's behalf, or on behalf of a
 * "foreign" reader of the same process, plus what places a signal stack or a signal handler.
 *
 * <p>Through {@link Native}'s template: static final handles, errno captured per thread and read only when the
 * call returned -1, a {@link NativeException} naming the call, its arguments in C terms and errno, and a
 * {@link NativeCallEvent} per call when a recording wants it. None is critical: each may block or fault
 * in the kernel. Buffers are passed as addresses: the point of these calls is to hand the kernel memory
 * that Java must not touch.
 */
public final class KernelPathCalls {
    /** socketpair(2)'s domain and type, and send(2)'s flag: {@code AF_UNIX}, {@code SOCK_STREAM}, {@code MSG_DONTWAIT}. */
    public static final int AF_UNIX = 1, SOCK_STREAM = 1, MSG_DONTWAIT = 0x40;
    /**
     * The flags of the other paths: {@code SPLICE_F_NONBLOCK}, {@code O_RDWR}, {@code MFD_CLOEXEC},
     * {@code GRND_NONBLOCK}, and {@code FUTEX_WAIT_PRIVATE} ({@code FUTEX_WAIT | FUTEX_PRIVATE_FLAG}).
     */
    public static final int SPLICE_F_NONBLOCK = 2, O_RDWR = 2, MFD_CLOEXEC = 1, GRND_NONBLOCK = 1, FUTEX_WAIT_PRIVATE = 128;
    /**
     * Signal stacks and handlers: {@code SS_DISABLE} (sigaltstack's "no alternate stack"), {@code SA_SIGINFO},
     * {@code SA_ONSTACK} (run the handler on the alternate stack), and {@code SIGUSR1}, which has no handler of
     * HotSpot's, so the signal-stack experiment installs its own.
     */
    public static final int SS_DISABLE = 2, SA_SIGINFO = 4, SA_ONSTACK = 0x08000000, SIGUSR1 = 10;

    /** {@code struct iovec}. */
    public static final StructLayout IOVEC = MemoryLayout.structLayout(
            JAVA_LONG.withName("iov_base"), JAVA_LONG.withName("iov_len"));
    /** Offset of {@code iov_base} in an {@link #IOVEC}. */
    public static final long IOV_BASE = CStructs.offset(IOVEC, "iov_base");
    /** Offset of {@code iov_len} in an {@link #IOVEC}. */
    public static final long IOV_LEN = CStructs.offset(IOVEC, "iov_len");
    /** {@code stack_t} on x86_64. */
    public static final StructLayout STACK_T = MemoryLayout.structLayout(
            JAVA_LONG.withName("ss_sp"), JAVA_INT.withName("ss_flags"), MemoryLayout.paddingLayout(4),
            JAVA_LONG.withName("ss_size"));
    /** glibc's {@code struct sigaction} on x86_64 (sa_mask is glibc's 1024-bit sigset_t). */
    public static final StructLayout SIGACTION = MemoryLayout.structLayout(
            JAVA_LONG.withName("sa_handler"), MemoryLayout.sequenceLayout(16, JAVA_LONG).withName("sa_mask"),
            JAVA_INT.withName("sa_flags"), MemoryLayout.paddingLayout(4), JAVA_LONG.withName("sa_restorer"));
    /** {@code struct timespec}. */
    public static final StructLayout TIMESPEC = MemoryLayout.structLayout(
            JAVA_LONG.withName("tv_sec"), JAVA_LONG.withName("tv_nsec"));


    private static final MethodHandle PREAD = Native.errno("pread", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG,
            JAVA_LONG, JAVA_LONG));
    private static final MethodHandle PWRITE = Native.errno("pwrite", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG,
            JAVA_LONG, JAVA_LONG));
    private static final MethodHandle READV = Native.errno("readv", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT));
    private static final MethodHandle WRITEV = Native.errno("writev", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT));
    private static final MethodHandle SOCKETPAIR = Native.errno("socketpair", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT,
            JAVA_INT, ADDRESS));
    private static final MethodHandle SEND = Native.errno("send", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG,
            JAVA_INT));
    private static final MethodHandle RECV = Native.errno("recv", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG,
            JAVA_INT));
    private static final MethodHandle VMSPLICE = Native.errno("vmsplice", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG,
            JAVA_LONG, JAVA_INT));
    private static final MethodHandle PROCESS_VM_READV = Native.errno("process_vm_readv", FunctionDescriptor.of(JAVA_LONG,
            JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle PROCESS_VM_WRITEV = Native.errno("process_vm_writev", FunctionDescriptor.of(JAVA_LONG,
            JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG));
    // open(2) is variadic (the mode); pkrseq never creates a file with it, so the mode is always 0.
    private static final MethodHandle OPEN = Native.errno("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT),
            Linker.Option.firstVariadicArg(2));
    private static final MethodHandle MEMFD_CREATE = Native.errno("memfd_create", FunctionDescriptor.of(JAVA_INT, ADDRESS,
            JAVA_INT));
    private static final MethodHandle GETRANDOM = Native.errno("getrandom", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG,
            JAVA_INT));
    private static final MethodHandle SIGALTSTACK = Native.errno("sigaltstack", FunctionDescriptor.of(JAVA_INT, JAVA_LONG,
            JAVA_LONG));
    private static final MethodHandle SIGACTION_MH = Native.errno("sigaction", FunctionDescriptor.of(JAVA_INT, JAVA_INT,
            JAVA_LONG, JAVA_LONG));
    
    private KernelPathCalls() {
    }

    /**
     * {@code pread(fd, buf, count, offset)}: the kernel writes {@code buf}.
     *
     * @param fd a file descriptor
     * @param buffer destination address
     * @param count bytes
     * @param offset file offset (for /proc/self/mem: the address to read)
     * @return bytes read
     */
    public static long pread(int fd, long buffer, long count, long offset) {
        return Native.call("pread", () -> fd + ", " + Fmt.hex(buffer) + ", " + count + ", " + Fmt.hex(offset),
                c -> (long) PREAD.invokeExact(c, fd, buffer, count, offset));
    }

    /**
     * {@code pwrite(fd, buf, count, offset)}: the kernel reads {@code buf}.
     *
     * @param fd a file descriptor
     * @param buffer source address
     * @param count bytes
     * @param offset file offset (for /proc/self/mem: the address to write)
     * @return bytes written
     */
    public static long pwrite(int fd, long buffer, long count, long offset) {
        return Native.call("pwrite", () -> fd + ", " + Fmt.hex(buffer) + ", " + count + ", " + Fmt.hex(offset),
                c -> (long) PWRITE.invokeExact(c, fd, buffer, count, offset));
    }

    /**
     * {@code readv(fd, iov, iovcnt)}.
     *
     * @param fd a file descriptor
     * @param iov address of {@code iovcnt} {@link #IOVEC}s
     * @param iovcnt how many
     * @return bytes read
     */
    public static long readv(int fd, long iov, int iovcnt) {
        return Native.call("readv", () -> fd + ", " + Fmt.hex(iov) + ", " + iovcnt, c -> (long) READV.invokeExact(c, fd, iov, iovcnt));
    }

    /**
     * {@code writev(fd, iov, iovcnt)}.
     *
     * @param fd a file descriptor
     * @param iov address of {@code iovcnt} {@link #IOVEC}s
     * @param iovcnt how many
     * @return bytes written
     */
    public static long writev(int fd, long iov, int iovcnt) {
        return Native.call("writev", () -> fd + ", " + Fmt.hex(iov) + ", " + iovcnt, c -> (long) WRITEV.invokeExact(c, fd, iov, iovcnt));
    }

    /**
     * {@code socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)}.
     *
     * @return the two connected sockets
     */
    public static int[] unixSocketPair() {
        MemorySegment sv = Native.scratch();
        Native.call("socketpair", () -> "AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0, sv",
                c -> (int) SOCKETPAIR.invokeExact(c, AF_UNIX, SOCK_STREAM | MemoryCalls.O_CLOEXEC, 0, sv));
        return new int[] {sv.get(JAVA_INT, 0), sv.get(JAVA_INT, 4)};
    }

    /**
     * {@code send(fd, buf, len, flags)}: the kernel reads {@code buf}.
     *
     * @param fd a socket
     * @param buffer source address
     * @param length bytes
     * @param flags for example {@link #MSG_DONTWAIT}
     * @return bytes sent
     */
    public static long send(int fd, long buffer, long length, int flags) {
        return Native.call("send", () -> fd + ", " + Fmt.hex(buffer) + ", " + length + ", " + Fmt.hex(flags),
                c -> (long) SEND.invokeExact(c, fd, buffer, length, flags));
    }

    /**
     * {@code recv(fd, buf, len, flags)}: the kernel writes {@code buf}.
     *
     * @param fd a socket
     * @param buffer destination address
     * @param length bytes
     * @param flags for example {@link #MSG_DONTWAIT}
     * @return bytes received
     */
    public static long recv(int fd, long buffer, long length, int flags) {
        return Native.call("recv", () -> fd + ", " + Fmt.hex(buffer) + ", " + length + ", " + Fmt.hex(flags),
                c -> (long) RECV.invokeExact(c, fd, buffer, length, flags));
    }

    /**
     * {@code vmsplice(fd, iov, nr_segs, flags)}: the kernel takes references to the user pages (GUP of
     * its own mm) into a pipe.
     *
     * @param fd the write end of a pipe
     * @param iov address of {@code segments} {@link #IOVEC}s
     * @param segments how many
     * @param flags for example {@link #SPLICE_F_NONBLOCK}
     * @return bytes spliced
     */
    public static long vmsplice(int fd, long iov, long segments, int flags) {
        return Native.call("vmsplice", () -> fd + ", " + Fmt.hex(iov) + ", " + segments + ", " + Fmt.hex(flags),
                c -> (long) VMSPLICE.invokeExact(c, fd, iov, segments, flags));
    }

    /**
     * {@code process_vm_readv(pid, local, 1, remote, 1, 0)}: reads the remote ranges of {@code pid} (GUP
     * with FOLL_REMOTE) into the local ones.
     *
     * @param pid a process, for example this one
     * @param localIov address of one {@link #IOVEC}, the destination
     * @param remoteIov address of one {@link #IOVEC}, the source in {@code pid}
     * @return bytes read
     */
    public static long processVmReadv(int pid, long localIov, long remoteIov) {
        return Native.call("process_vm_readv", () -> pid + ", " + Fmt.hex(localIov) + ", 1, " + Fmt.hex(remoteIov) + ", 1, 0",
                c -> (long) PROCESS_VM_READV.invokeExact(c, pid, localIov, 1L, remoteIov, 1L, 0L));
    }

    /**
     * {@code process_vm_writev(pid, local, 1, remote, 1, 0)}: writes the local ranges into the remote
     * ones of {@code pid}.
     *
     * @param pid a process, for example this one
     * @param localIov address of one {@link #IOVEC}, the source
     * @param remoteIov address of one {@link #IOVEC}, the destination in {@code pid}
     * @return bytes written
     */
    public static long processVmWritev(int pid, long localIov, long remoteIov) {
        return Native.call("process_vm_writev", () -> pid + ", " + Fmt.hex(localIov) + ", 1, " + Fmt.hex(remoteIov) + ", 1, 0",
                c -> (long) PROCESS_VM_WRITEV.invokeExact(c, pid, localIov, 1L, remoteIov, 1L, 0L));
    }

    /**
     * {@code open(path, flags | O_CLOEXEC)}, never creating a file.
     *
     * @param path for example {@code /proc/self/mem}
     * @param flags for example {@link #O_RDWR}
     * @return the file descriptor
     */
    public static int open(String path, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = arena.allocateFrom(path);
            return (int) Native.call("open", () -> "\"" + path + "\", " + Fmt.hex(flags | MemoryCalls.O_CLOEXEC),
                    c -> (int) OPEN.invokeExact(c, p, flags | MemoryCalls.O_CLOEXEC, 0));
        }
    }

    /**
     * {@code memfd_create(name, MFD_CLOEXEC)}: an anonymous file, for pread and pwrite.
     *
     * @param name shown in /proc/self/fd
     * @return the file descriptor
     */
    public static int memfdCreate(String name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment n = arena.allocateFrom(name);
            return (int) Native.call("memfd_create", () -> "\"" + name + "\", MFD_CLOEXEC",
                    c -> (int) MEMFD_CREATE.invokeExact(c, n, MFD_CLOEXEC));
        }
    }

    /**
     * {@code getrandom(buf, len, flags)}: the kernel writes {@code buf}.
     *
     * @param buffer destination address
     * @param length bytes
     * @param flags for example {@link #GRND_NONBLOCK}
     * @return bytes written
     */
    public static long getrandom(long buffer, long length, int flags) {
        return Native.call("getrandom", () -> Fmt.hex(buffer) + ", " + length + ", " + flags,
                c -> (long) GETRANDOM.invokeExact(c, buffer, length, flags));
    }

    /**
     * {@code futex(uaddr, FUTEX_WAIT_PRIVATE, val, timeout)}: the kernel reads the word and sleeps only
     * if it equals {@code val}.
     *
     * @param uaddr a 4-byte aligned word
     * @param val the value to sleep on
     * @param timeout address of a {@link #TIMESPEC}, relative; 0 for none
     * @return 0 after a wake-up
     */
    public static long futexWait(long uaddr, int val, long timeout) {
        return Native.call("futex", () -> Fmt.hex(uaddr) + ", FUTEX_WAIT_PRIVATE, " + val + ", " + Fmt.hex(timeout),
                c -> (long) Native.SYSCALL_4.invokeExact(c, (long) Syscall.FUTEX.number(), uaddr, (long) FUTEX_WAIT_PRIVATE,
                        (long) val, timeout));
    }

    /**
     * {@code sigaltstack(ss, old)}.
     *
     * @param ss address of a {@link #STACK_T}, or 0
     * @param old address of a {@link #STACK_T} to receive the old one, or 0
     */
    public static void sigaltstack(long ss, long old) {
        Native.call("sigaltstack", () -> Fmt.hex(ss) + ", " + Fmt.hex(old), c -> (int) SIGALTSTACK.invokeExact(c, ss, old));
    }

    /**
     * glibc's {@code sigaction(sig, act, old)} (glibc supplies the restorer).
     *
     * @param sig the signal
     * @param act address of a {@link #SIGACTION}, or 0
     * @param old address of a {@link #SIGACTION} to receive the old one, or 0
     */
    public static void sigaction(int sig, long act, long old) {
        Native.call("sigaction", () -> sig + ", " + Fmt.hex(act) + ", " + Fmt.hex(old), c -> (int) SIGACTION_MH.invokeExact(c, sig, act,
                old));
    }
}
