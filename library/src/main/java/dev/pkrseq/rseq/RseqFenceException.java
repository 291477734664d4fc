package dev.pkrseq.rseq;

import dev.pkrseq.Errno;
import dev.pkrseq.NativeException;

/**
 * The rseq fence could not be had: the kernel refused {@code membarrier(2)}, or the CPU named does not
 * exist. The call, errno by name, and what that errno means for this call in words, for example:
 * <pre>
 * membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, 0, 0) failed: EPERM (Operation not permitted): this process
 * has not registered for the rseq fence; call RseqFence.register() once first
 * </pre>
 * Callers compare {@link #errno()} with an {@link Errno} constant; they never parse the message.
 */
public final class RseqFenceException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** errno by name. */
    private final Errno errno;
    /** What the errno means for this call, in words. */
    private final String explanation;

    RseqFenceException(NativeException cause, String explanation) {
        super(cause.getMessage() + ": " + explanation, cause);
        this.errno = cause.errno();
        this.explanation = explanation;
    }

    /** A refusal pkrseq makes before the call: the kernel would not have said it. */
    RseqFenceException(String call, Errno errno, String explanation) {
        super(call + " refused: " + errno.name() + ": " + explanation);
        this.errno = errno;
        this.explanation = explanation;
    }

    /**
     * errno by name.
     *
     * @return {@link Errno#EPERM} (not registered), {@link Errno#EINVAL} (command or flag unknown to this
     *     kernel), {@link Errno#ENOSYS} (no membarrier), {@link Errno#ENXIO} (no such CPU), or what else the
     *     kernel said
     */
    public Errno errno() {
        return errno;
    }

    /**
     * What the errno means for this call, without the call itself.
     *
     * @return for example "this process has not registered for the rseq fence; call RseqFence.register() once
     *     first"
     */
    public String explanation() {
        return explanation;
    }

    /**
     * Whether the failure means this kernel has no rseq fence at all: ENOSYS, or EINVAL from the
     * registration.
     *
     * @return true when no call can succeed here
     */
    public boolean unsupported() {
        return errno == Errno.ENOSYS || (errno == Errno.EINVAL && getCause() != null
                && ((NativeException) getCause()).arguments().startsWith("MEMBARRIER_CMD_REGISTER"));
    }
}
