package dev.pkrseq.rseq;

import dev.pkrseq.Errno;
import dev.pkrseq.NativeException;
import dev.pkrseq.sys.RseqCalls;

/**
 * The rseq fence: {@code membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ)}. When it returns, every rseq
 * critical section of this process that was running on the CPUs it names has been aborted (its commit
 * never happens), and every store the calling thread made before the call is visible to the threads
 * running there. It is how a thread that does not run on a CPU can change that CPU's data safely: take the
 * data out of the sections' reach (swap a pointer, set a "stopped" flag the sections check), then fence;
 * no section that saw the old state can commit afterwards. tcmalloc drains its per-CPU caches this way;
 * {@link PerCpuPool#free} uses it before reusing memory; the membarrier test of {@code pkrseq paramtest}
 * ({@code -T r}) shows it.
 *
 * <p>The process registers once ({@link #register()}, {@code MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ},
 * Linux 5.10+); the registration is process-wide and cannot be undone. Then:
 * <ul>
 *   <li>{@link #fence(int)}: one CPU ({@code MEMBARRIER_CMD_FLAG_CPU}): one interprocessor interrupt, if
 *       a thread of this process runs there;</li>
 *   <li>{@link #fenceAll()}: every CPU that runs a thread of this process. mm_cid-indexed data needs this
 *       one: the kernel cannot target an mm_cid, only a CPU.</li>
 * </ul>
 * Fencing the CPU the caller runs on needs no interrupt in principle (no other thread of the CPU can be
 * inside a section while the caller runs), but the caller can migrate at any moment, so pkrseq always
 * makes the call.
 *
 * <p>Errors are {@link RseqFenceException}, errno by name: EPERM when the process has not registered,
 * EINVAL when the kernel lacks the command, ENOSYS without membarrier, ENXIO for a CPU that does not
 * exist. The last is pkrseq's own refusal: Linux 6.18 answers 0 and interrupts nothing for a CPU beyond
 * the possible ones, and fences <em>every</em> CPU for a negative one, so a CPU outside
 * {@code /sys/devices/system/cpu/possible} never reaches the kernel. (param_test accepts ENXIO from the
 * kernel for a missing CPU.)
 */
public final class RseqFence {
    private static volatile boolean registered;

    private RseqFence() {
    }

    /**
     * Whether this kernel offers the rseq fence: {@code MEMBARRIER_CMD_QUERY} lists
     * {@code MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ}.
     *
     * @return true on Linux 5.10+ built with rseq and membarrier
     */
    public static boolean supported() {
        try {
            return (RseqCalls.membarrier(RseqCalls.MEMBARRIER_CMD_QUERY, 0, 0) & RseqCalls.MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ) != 0;
        } catch (NativeException e) {
            return false;
        }
    }

    /**
     * Registers this process for the rseq fence. Idempotent; the first call in a process with several
     * threads waits for an RCU grace period (milliseconds).
     *
     * @throws RseqFenceException EINVAL (this kernel has no rseq fence), ENOSYS (no membarrier)
     */
    public static void register() {
        try {
            RseqCalls.membarrier(RseqCalls.MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ, 0, 0);
            registered = true;
        } catch (NativeException e) {
            throw explain(e, -1);
        }
    }

    /**
     * Registers once per process: after the first success, a volatile read.
     *
     * @throws RseqFenceException as {@link #register()}
     */
    public static void ensureRegistered() {
        if (!registered) {
            register();
        }
    }

    /**
     * Whether this process registered for the rseq fence, as the kernel says
     * ({@code MEMBARRIER_CMD_GET_REGISTRATIONS}, Linux 6.3+), or as pkrseq remembers where the kernel cannot
     * say.
     *
     * @return true after a successful {@link #register()} (by anyone in this process)
     */
    public static boolean registered() {
        try {
            return (RseqCalls.membarrier(RseqCalls.MEMBARRIER_CMD_GET_REGISTRATIONS, 0, 0)
                    & RseqCalls.MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ) != 0;
        } catch (NativeException e) {
            return registered;
        }
    }

    /**
     * Aborts the rseq critical sections of this process running on one CPU, and makes the caller's stores
     * visible there.
     *
     * @param cpu a possible CPU: 0 to the highest in {@code /sys/devices/system/cpu/possible}
     * @throws RseqFenceException ENXIO for a CPU that does not exist (refused before the call), EPERM when the
     *     process has not registered, EINVAL or ENOSYS where the kernel has no rseq fence
     */
    public static void fence(int cpu) {
        int possible = RseqCode.possibleCpus();
        if (cpu < 0 || cpu >= possible) {
            throw new RseqFenceException("membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, MEMBARRIER_CMD_FLAG_CPU, "
                    + cpu + ")", Errno.ENXIO, "CPU " + cpu + " does not exist: the possible CPUs are 0 to " + (possible - 1)
                    + " (/sys/devices/system/cpu/possible). The kernel would return 0 and interrupt nothing for a CPU"
                    + " beyond them, and would fence every CPU for a negative one");
        }
        try {
            RseqCalls.membarrier(RseqCalls.MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, RseqCalls.MEMBARRIER_CMD_FLAG_CPU, cpu);
        } catch (NativeException e) {
            throw explain(e, cpu);
        }
    }

    /**
     * Aborts the rseq critical sections of this process running on every CPU, and makes the caller's stores
     * visible there.
     *
     * @throws RseqFenceException EPERM when the process has not registered, EINVAL or ENOSYS where the kernel
     *     has no rseq fence
     */
    public static void fenceAll() {
        try {
            RseqCalls.membarrier(RseqCalls.MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, 0, 0);
        } catch (NativeException e) {
            throw explain(e, -1);
        }
    }

    private static RseqFenceException explain(NativeException e, int cpu) {
        boolean registering = e.arguments().startsWith("MEMBARRIER_CMD_REGISTER");
        String why = switch (e.errno()) {
            case EPERM -> "this process has not registered for the rseq fence; call RseqFence.register() once first";
            case EINVAL -> registering
                    ? "this kernel has no rseq fence (MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ needs Linux 5.10+"
                            + " built with CONFIG_RSEQ)"
                    : "this kernel does not know MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ"
                            + (cpu >= 0 ? " with MEMBARRIER_CMD_FLAG_CPU" : "") + " (Linux 5.10+)";
            case ENOSYS -> "this kernel has no membarrier system call (built without CONFIG_MEMBARRIER)";
            case ENXIO -> "CPU " + cpu + " does not exist";
            case ENOMEM -> "the kernel could not allocate the CPU mask it needs; try again";
            default -> "unexpected errno from membarrier";
        };
        return new RseqFenceException(e, why);
    }
}
