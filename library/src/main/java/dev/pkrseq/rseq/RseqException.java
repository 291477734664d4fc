package dev.pkrseq.rseq;

import dev.pkrseq.Errno;
import dev.pkrseq.NativeException;

/**
 * The kernel refused an {@code rseq(2)} call: the call, errno by name, and what that errno means for
 * this call in words.
 *
 * <p>The kernel answers one errno for several causes (EINVAL alone covers "already registered with
 * another area", "bad length", "misaligned" and "unregister with a mismatch"), so the explanation is
 * worked out from the arguments and from what pkrseq knows of the calling thread, in the order the
 * kernel makes its checks (kernel/rseq.c). For example:
 * <pre>
 * rseq(0x7f3a1c000000, 32, 0, 0x53053053) failed: EINVAL (Invalid argument): this thread is already registered (by glibc)
 * </pre>
 * Callers compare {@link #errno()} with an {@link Errno} constant; they never parse the message.
 */
public final class RseqException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** Which request failed. */
    public enum Operation {
        /** {@code rseq(area, len, 0, sig)}. */
        REGISTER,
        /** {@code rseq(area, len, RSEQ_FLAG_UNREGISTER, sig)}. */
        UNREGISTER
    }

    /** What pkrseq asked the kernel to do. */
    private final Operation operation;
    /** What the errno means for this operation. */
    private final String explanation;

    RseqException(Operation operation, NativeException cause, String explanation) {
        super(cause.getMessage() + ": " + explanation, cause);
        this.operation = operation;
        this.explanation = explanation;
    }

    /**
     * The request that failed.
     *
     * @return register or unregister
     */
    public Operation operation() {
        return operation;
    }

    /**
     * errno by name.
     *
     * @return for example {@link Errno#EBUSY}
     */
    public Errno errno() {
        return ((NativeException) getCause()).errno();
    }

    /**
     * What the errno means for this call, without the call itself.
     *
     * @return for example "this thread is already registered (by glibc)"
     */
    public String explanation() {
        return explanation;
    }

    /**
     * Whether the kernel has no rseq: ENOSYS.
     *
     * @return true when the failure means "not supported"
     */
    public boolean notSupported() {
        return errno() == Errno.ENOSYS;
    }

    /** What pkrseq knows about the calling thread's registration when a call fails. */
    record ThreadState(Owner owner, long address, int length, int signature) {
        static final ThreadState NONE = new ThreadState(Owner.NONE, 0, 0, 0);
    }

    static final String NOT_SUPPORTED = "not supported: this kernel has no rseq system call"
            + " (Linux before 4.18, CONFIG_RSEQ off, or a seccomp filter that hides it)";

    /** Why an errno that the kernel's rseq would not give for the call came back all the same. */
    static final String DENIED = "a seccomp filter (a container runtime's profile, systemd's SystemCallFilter=) or a"
            + " security module denies rseq to this process";

    /**
     * Words for {@code rseq(NULL, 0, 0, 0)} failing with an errno other than EINVAL and ENOSYS.
     *
     * @param errno the errno
     * @param value its number, for one outside the table
     * @return "rseq is denied here: rseq(NULL, 0, 0, 0) failed with EPERM (Operation not permitted), ..."
     */
    static String denied(Errno errno, int value) {
        return "rseq is denied here: rseq(NULL, 0, 0, 0) failed with " + (errno == Errno.UNKNOWN ? "errno " + value
                : errno.name() + " (" + errno.text() + ")") + ", where the kernel's rseq gives EINVAL (or ENOSYS where"
                + " it has none): " + DENIED;
    }

    /**
     * Explains an errno, following the order of the checks in the kernel's {@code sys_rseq}.
     *
     * @param op the request
     * @param errno what the kernel said
     * @param address the area the call named
     * @param length the length the call named
     * @param signature the signature the call named
     * @param state the calling thread's registration as pkrseq knows it
     * @param featureSize {@code AT_RSEQ_FEATURE_SIZE}, or 20
     * @param align {@code AT_RSEQ_ALIGN}, or 32
     * @return the explanation in words
     */
    static String explain(Operation op, Errno errno, long address, int length, int signature, ThreadState state,
            int featureSize, int align) {
        if (errno == Errno.ENOSYS) {
            return NOT_SUPPORTED;
        }
        String registered = state.owner() == Owner.NONE ? null
                : "this thread is already registered (by " + state.owner() + ")";
        if (op == Operation.REGISTER) {
            switch (errno) {
                case EINVAL -> {
                    if (registered != null) {
                        if (state.owner() == Owner.GLIBC) {
                            return registered;
                        }
                        return registered + " at " + hex(state.address()) + " with length " + state.length()
                                + "; the call names " + (state.address() != address ? "another area" : "another length");
                    }
                    String bad = badLayout(address, length, featureSize, align);
                    if (bad != null) {
                        return bad;
                    }
                    return "length and alignment are valid, so this thread is already registered by someone pkrseq"
                            + " does not know (another library?) with another area or length";
                }
                case EBUSY -> {
                    return "this area is already registered for this thread (same area, length and signature)";
                }
                case EPERM -> {
                    return eperm(state, address, "for an area registered for this thread",
                            "this area is already registered for this thread with another signature ("
                                    + hex(state.signature() & 0xffffffffL) + ", not " + hex(signature & 0xffffffffL) + ")");
                }
                case EFAULT -> {
                    return "the area " + hex(address) + " is not user memory the kernel can read and write";
                }
                default -> {
                    return "the kernel's rseq never gives " + errno + " to a registration: " + DENIED;
                }
            }
        }
        switch (errno) {
            case EINVAL -> {
                if (state.owner() == Owner.NONE) {
                    return "this thread has no registration pkrseq knows of: unregister must name the registered area"
                            + " and length";
                }
                if (state.address() != address) {
                    return "the thread's registered area is " + hex(state.address()) + " (by " + state.owner()
                            + "), not " + hex(address);
                }
                if (state.length() != length) {
                    return "the area was registered with length " + state.length() + ", not " + length;
                }
                return "the area or length does not match the thread's registration";
            }
            case EPERM -> {
                return eperm(state, address, "to an unregistration that names the registered area",
                        "wrong signature: the area was registered with " + hex(state.signature() & 0xffffffffL)
                                + ", the call passed " + hex(signature & 0xffffffffL));
            }
            case EFAULT -> {
                return "the kernel could not reset the area's cpu_id: " + hex(address) + " is not writable";
            }
            default -> {
                return "the kernel's rseq never gives " + errno + " to an unregistration: " + DENIED;
            }
        }
    }

    /**
     * EPERM, which the kernel's rseq gives only where the call names the thread's registered area with another
     * signature: then the mismatch; where this thread has no such area, something outside the kernel's rseq
     * refused the call.
     */
    private static String eperm(ThreadState state, long address, String onlyWhere, String mismatch) {
        if (state.owner() == Owner.NONE || state.address() != address) {
            return "the kernel's rseq gives EPERM only " + onlyWhere + " with another signature, and this thread has "
                    + (state.owner() == Owner.NONE ? "no registration pkrseq knows of" : "another area registered")
                    + ": " + DENIED;
        }
        return mismatch;
    }

    /**
     * The kernel's layout checks for a thread that is not registered yet.
     *
     * @return why the kernel rejects this area and length, or null when it accepts them
     */
    static String badLayout(long address, int length, int featureSize, int align) {
        if (Integer.compareUnsigned(length, RseqAbi.MIN_LENGTH) < 0) {
            return "length " + Integer.toUnsignedString(length) + " is below the minimum of " + RseqAbi.MIN_LENGTH
                    + " bytes";
        }
        if (length == RseqAbi.MIN_LENGTH && Long.remainderUnsigned(address, RseqAbi.MIN_ALIGN) != 0) {
            return "area " + hex(address) + " is not aligned to " + RseqAbi.MIN_ALIGN + " bytes";
        }
        if (length != RseqAbi.MIN_LENGTH && Long.remainderUnsigned(address, align) != 0) {
            return "area " + hex(address) + " is not aligned to AT_RSEQ_ALIGN (" + align + " bytes)";
        }
        if (length != RseqAbi.MIN_LENGTH && Integer.compareUnsigned(length, featureSize) < 0) {
            return "length " + Integer.toUnsignedString(length) + " is neither " + RseqAbi.MIN_LENGTH
                    + " nor at least the kernel's feature size (" + featureSize + ")";
        }
        return null;
    }

    static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }
}
