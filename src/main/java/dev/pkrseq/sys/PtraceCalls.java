package dev.pkrseq.sys;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The native calls of the thread-rights census: ptrace (to stop another thread briefly and read its XSAVE
 * area, where PKRU lives), waitpid, and prctl(PR_SET_PTRACER), which lets a helper process trace this one
 * where Yama's ptrace_scope 1 would refuse it.
 *
 * <p>Same contract as {@link Sys}: static final handles, errno captured per thread, a
 * {@link NativeException} naming the call, its arguments and errno, a {@link NativeCallEvent} per call
 * when a recording wants it.
 */
@SuppressWarnings("restricted")
public final class PtraceCalls {
    /** {@code PTRACE_CONT}: resume a stopped tracee, delivering the signal in {@code data} (0 for none). */
    public static final int PTRACE_CONT = 7;
    /** {@code PTRACE_GETSIGINFO}: the siginfo_t of the signal a tracee stopped for. */
    public static final int PTRACE_GETSIGINFO = 0x4202;
    /** {@code PTRACE_DETACH}. */
    public static final int PTRACE_DETACH = 17;
    /** {@code PTRACE_GETREGSET}. */
    public static final int PTRACE_GETREGSET = 0x4204;
    /** {@code PTRACE_SEIZE}: attach without stopping the thread. */
    public static final int PTRACE_SEIZE = 0x4206;
    /** {@code PTRACE_INTERRUPT}: stop a seized thread. */
    public static final int PTRACE_INTERRUPT = 0x4207;
    /** {@code NT_X86_XSTATE}: the regset of the XSAVE area, in the standard (non-compacted) format. */
    public static final int NT_X86_XSTATE = 0x202;
    /** {@code __WALL}: wait for threads too. */
    public static final int WALL = 0x40000000;
    /** {@code PR_SET_PTRACER}. */
    public static final int PR_SET_PTRACER = 0x59616d61;

    private static final int SYS_PTRACE = 101;
    private static final int SYS_PRCTL = 157;

    /** {@code struct iovec}. */
    public static final StructLayout IOVEC = MemoryLayout.structLayout(
            JAVA_LONG.withName("iov_base"), JAVA_LONG.withName("iov_len"));

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final ThreadLocal<MemorySegment> CAPTURE =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE_LAYOUT));
    private static final ThreadLocal<MemorySegment> STATUS = ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(JAVA_INT));

    // ptrace(2) and prctl(2) are variadic in glibc; the raw system calls take four longs, which is what
    // these requests need.
    private static final MethodHandle SYSCALL_4 = errno("syscall", FunctionDescriptor.of(JAVA_LONG,
            JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG), Linker.Option.firstVariadicArg(1));
    private static final MethodHandle WAITPID = errno("waitpid", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS,
            JAVA_INT));

    private PtraceCalls() {
    }

    @FunctionalInterface
    private interface Call {
        long invoke(MemorySegment capture) throws Throwable;
    }

    private static long call(String function, String arguments, Call call) {
        NativeCallEvent ev = new NativeCallEvent();
        ev.begin();
        MemorySegment cap = CAPTURE.get();
        long r;
        try {
            r = call.invoke(cap);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError("native call threw a checked exception", t);
        }
        if (r == -1 || ev.shouldCommit()) {
            int errno = r == -1 ? (int) ERRNO.get(cap, 0L) : 0;
            if (ev.shouldCommit()) {
                ev.commit(function, arguments, r, errno);
            }
            if (r == -1) {
                throw new NativeException(function, arguments, errno);
            }
        }
        return r;
    }

    /**
     * The {@code ptrace(request, pid, addr, data)} system call.
     *
     * @param request for example {@link #PTRACE_SEIZE}
     * @param tid the thread
     * @param addr the request's address argument
     * @param data the request's data argument
     * @return the system call's result
     * @throws NativeException EPERM where tracing is forbidden (Yama, no PR_SET_PTRACER, a non-dumpable
     *     process, a seccomp policy), ESRCH for a thread that is gone or not stopped
     */
    public static long ptrace(int request, int tid, long addr, long data) {
        return call("ptrace", request(request) + ", " + tid + ", " + Fmt.hex(addr) + ", " + Fmt.hex(data),
                c -> (long) SYSCALL_4.invokeExact(c, (long) SYS_PTRACE, (long) request, (long) tid, addr, data));
    }

    /**
     * {@code waitpid(pid, &status, options)}.
     *
     * @param pid the thread or process
     * @param options for example {@link #WALL}
     * @return the wait status
     */
    public static int waitpid(int pid, int options) {
        MemorySegment status = STATUS.get();
        call("waitpid", pid + ", &status, " + Fmt.hex(options), c -> (int) WAITPID.invokeExact(c, pid, status, options));
        return status.get(JAVA_INT, 0);
    }

    /**
     * {@code prctl(PR_SET_PTRACER, pid)}: lets process {@code pid} trace this one (Yama ptrace_scope 1); 0
     * takes the permission back.
     *
     * @param pid the tracer, or 0
     */
    public static void setPtracer(long pid) {
        call("prctl", "PR_SET_PTRACER, " + pid,
                c -> (long) SYSCALL_4.invokeExact(c, (long) SYS_PRCTL, (long) PR_SET_PTRACER, pid, 0L, 0L));
    }

    private static String request(int request) {
        return switch (request) {
            case PTRACE_CONT -> "PTRACE_CONT";
            case PTRACE_GETSIGINFO -> "PTRACE_GETSIGINFO";
            case PTRACE_DETACH -> "PTRACE_DETACH";
            case PTRACE_GETREGSET -> "PTRACE_GETREGSET";
            case PTRACE_SEIZE -> "PTRACE_SEIZE";
            case PTRACE_INTERRUPT -> "PTRACE_INTERRUPT";
            default -> Integer.toString(request);
        };
    }

    private static MethodHandle errno(String name, FunctionDescriptor fd, Linker.Option... extra) {
        Linker.Option[] options = new Linker.Option[extra.length + 1];
        options[0] = Linker.Option.captureCallState("errno");
        System.arraycopy(extra, 0, options, 1, extra.length);
        MemorySegment symbol = LIBC.find(name).orElseThrow(() -> new UnsatisfiedLinkError("C library function not found: "
                + name));
        return LINKER.downcallHandle(symbol, fd, options);
    }
}
