package dev.pkrseq.sys;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import dev.pkrseq.NativeException;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.Map;

/**
 * The native calls of the thread-rights census: ptrace (to stop another thread briefly and read its XSAVE
 * area, where PKRU lives), waitpid, and prctl(PR_SET_PTRACER), which lets a helper process trace this one
 * where Yama's ptrace_scope 1 would refuse it.
 *
 * <p>Through {@link Native}'s template: static final handles, errno captured per thread, a
 * {@link NativeException} naming the call, its arguments and errno, a {@link NativeCallEvent} per call
 * when a recording wants it.
 */
public final class PtraceCalls {
    /**
     * ptrace(2)'s requests: {@code PTRACE_CONT} (resume a stopped tracee, delivering the signal in
     * {@code data}, 0 for none), {@code PTRACE_GETSIGINFO} (the siginfo_t of the signal a tracee stopped for),
     * {@code PTRACE_DETACH}, {@code PTRACE_GETREGSET}, {@code PTRACE_SEIZE} (attach without stopping the
     * thread) and {@code PTRACE_INTERRUPT} (stop a seized thread).
     */
    public static final int PTRACE_CONT = 7, PTRACE_GETSIGINFO = 0x4202, PTRACE_DETACH = 17, PTRACE_GETREGSET = 0x4204,
            PTRACE_SEIZE = 0x4206, PTRACE_INTERRUPT = 0x4207;
    /**
     * What goes with them: {@code NT_X86_XSTATE} (the regset of the XSAVE area, in the standard,
     * non-compacted format), waitpid(2)'s {@code __WALL} (wait for threads too) and prctl(2)'s
     * {@code PR_SET_PTRACER}.
     */
    public static final int NT_X86_XSTATE = 0x202, WALL = 0x40000000, PR_SET_PTRACER = 0x59616d61;

    /** The requests by C name, for messages. */
    private static final Map<Integer, String> REQUESTS = Map.of(PTRACE_CONT, "PTRACE_CONT",
            PTRACE_GETSIGINFO, "PTRACE_GETSIGINFO", PTRACE_DETACH, "PTRACE_DETACH", PTRACE_GETREGSET, "PTRACE_GETREGSET",
            PTRACE_SEIZE, "PTRACE_SEIZE", PTRACE_INTERRUPT, "PTRACE_INTERRUPT");

    private static final MethodHandle WAITPID = Native.errno("waitpid", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS,
            JAVA_INT));

    private PtraceCalls() {
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
        // ptrace(2) and prctl(2) are variadic in glibc; the raw system calls take four longs, which is
        // what these requests need.
        return Native.call("ptrace", () -> request(request) + ", " + tid + ", " + Fmt.hex(addr) + ", " + Fmt.hex(data),
                c -> (long) Native.SYSCALL_4.invokeExact(c, (long) Syscall.PTRACE.number(), (long) request, (long) tid, addr, data));
    }

    /**
     * {@code waitpid(pid, &status, options)}.
     *
     * @param pid the thread or process
     * @param options for example {@link #WALL}
     * @return the wait status
     */
    public static int waitpid(int pid, int options) {
        MemorySegment status = Native.scratch();
        Native.call("waitpid", () -> pid + ", &status, " + Fmt.hex(options), c -> (int) WAITPID.invokeExact(c, pid, status, options));
        return status.get(JAVA_INT, 0);
    }

    /**
     * {@code prctl(PR_SET_PTRACER, pid)}: lets process {@code pid} trace this one (Yama ptrace_scope 1); 0
     * takes the permission back.
     *
     * @param pid the tracer, or 0
     */
    public static void setPtracer(long pid) {
        Native.call("prctl", () -> "PR_SET_PTRACER, " + pid,
                c -> (long) Native.SYSCALL_4.invokeExact(c, (long) Syscall.PRCTL.number(), (long) PR_SET_PTRACER, pid, 0L, 0L));
    }

    private static String request(int request) {
        return REQUESTS.getOrDefault(request, Integer.toString(request));
    }
}
