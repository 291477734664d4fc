package dev.pkrseq.sys;

import dev.pkrseq.NativeException;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.Map;

/** rseq: the system call, and downcalls into the machine code pkrseq generates for it. */
public final class RseqCalls {
    /** {@code RSEQ_FLAG_UNREGISTER}. */
    public static final int RSEQ_FLAG_UNREGISTER = 1;
    /**
     * membarrier(2)'s commands: {@code MEMBARRIER_CMD_QUERY} (the supported commands, as a bit mask),
     * {@code MEMBARRIER_CMD_PRIVATE_EXPEDITED} (a memory barrier on every CPU running a thread of this process)
     * and its registration, from Linux 5.10 {@code MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ} (which also aborts the
     * rseq critical sections running there) and its registration, and from Linux 6.3
     * {@code MEMBARRIER_CMD_GET_REGISTRATIONS} (the commands this process registered, as a bit mask).
     */
    public static final int MEMBARRIER_CMD_QUERY = 0, MEMBARRIER_CMD_PRIVATE_EXPEDITED = 1 << 3,
            MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED = 1 << 4, MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ = 1 << 7,
            MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ = 1 << 8, MEMBARRIER_CMD_GET_REGISTRATIONS = 1 << 9;
    /** {@code MEMBARRIER_CMD_FLAG_CPU}: only the CPU named by the third argument. */
    public static final int MEMBARRIER_CMD_FLAG_CPU = 1;

    /** The membarrier commands by C name, for messages. */
    private static final Map<Integer, String> MEMBARRIER_COMMANDS = Map.of(MEMBARRIER_CMD_QUERY, "MEMBARRIER_CMD_QUERY",
            MEMBARRIER_CMD_PRIVATE_EXPEDITED, "MEMBARRIER_CMD_PRIVATE_EXPEDITED",
            MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, "MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED",
            MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, "MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ",
            MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ, "MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ",
            MEMBARRIER_CMD_GET_REGISTRATIONS, "MEMBARRIER_CMD_GET_REGISTRATIONS");

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
     * The {@code membarrier(2)} system call. It may block (it waits for interprocessor interrupts, and a
     * first registration for an RCU grace period), so it goes through the plain, non-critical template.
     *
     * @param cmd a {@code MEMBARRIER_CMD_*} command
     * @param flags 0, or {@link #MEMBARRIER_CMD_FLAG_CPU} with {@link #MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ}
     * @param cpuId the CPU, when {@code flags} is {@link #MEMBARRIER_CMD_FLAG_CPU}
     * @return what the kernel returned: 0, or a bit mask for the query commands
     * @throws NativeException EINVAL for a command this kernel lacks or a bad flag, EPERM for an expedited
     *     command the process did not register, ENOSYS without membarrier, ENOMEM
     * @see <a href="https://man7.org/linux/man-pages/man2/membarrier.2.html">membarrier(2)</a>
     */
    public static int membarrier(int cmd, int flags, int cpuId) {
        return (int) Native.call("membarrier", () -> membarrierCommand(cmd) + ", "
                        + (flags == MEMBARRIER_CMD_FLAG_CPU ? "MEMBARRIER_CMD_FLAG_CPU" : Integer.toString(flags)) + ", " + cpuId,
                cap -> (long) Native.SYSCALL_3.invokeExact(cap, (long) Syscall.MEMBARRIER.number(), (long) cmd,
                        (long) flags, (long) cpuId));
    }

    private static String membarrierCommand(int cmd) {
        return MEMBARRIER_COMMANDS.getOrDefault(cmd, Integer.toString(cmd));
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
