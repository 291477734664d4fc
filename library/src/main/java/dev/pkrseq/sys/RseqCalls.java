package dev.pkrseq.sys;

import dev.pkrseq.NativeException;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/** rseq: the system call, and downcalls into the machine code pkrseq generates for it. */
public final class RseqCalls {
    /** {@code RSEQ_FLAG_UNREGISTER}. */
    public static final int RSEQ_FLAG_UNREGISTER = 1;

    private RseqCalls() {
    }

    /**
     * The {@code rseq(2)} system call: registers or, with {@link #RSEQ_FLAG_UNREGISTER}, unregisters
     * the calling thread's struct rseq.
     *
     * @param area the struct rseq, or 0
     * @param length its length
     * @param flags 0 or {@link #RSEQ_FLAG_UNREGISTER}
     * @param signature the abort signature
     * @throws NativeException EINVAL, EBUSY, EPERM, EFAULT or ENOSYS as the kernel decides
     * @see <a href="https://man7.org/linux/man-pages/man2/rseq.2.html">rseq(2)</a>
     */
    public static void rseq(long area, int length, int flags, int signature) {
        Native.call("rseq", () -> Fmt.hex(area) + ", " + length + ", " + flags + ", " + Fmt.hex(signature & 0xffffffffL),
                cap -> (long) Native.SYSCALL_4.invokeExact(cap, (long) Syscall.RSEQ.number(), area, (long) length,
                        (long) flags, (long) signature));
    }

    /**
     * A downcall handle for machine code at an address, such as code pkrseq generated at run time.
     *
     * @param function the code's entry point, in an executable mapping
     * @param descriptor its C signature
     * @param critical true only for code that never blocks and never calls back
     * @return the handle; build it once and keep it
     */
    public static MethodHandle downcall(MemorySegment function, FunctionDescriptor descriptor, boolean critical) {
        return Native.downcall(function, descriptor, critical);
    }
}
