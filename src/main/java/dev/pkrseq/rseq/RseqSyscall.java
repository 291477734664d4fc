package dev.pkrseq.rseq;

import dev.pkrseq.sys.Errno;
import dev.pkrseq.sys.NativeException;
import dev.pkrseq.sys.Sys;

/**
 * The {@code rseq(2)} system call with any arguments, for experiments on the kernel's checks, and with
 * every failure named and explained ({@link RseqException}).
 *
 * <p>These calls exist to observe the kernel's refusals: "already registered" (EINVAL), the same area
 * twice (EBUSY), a wrong signature (EPERM), a bad length or alignment (EINVAL), an address outside user
 * space (EFAULT). A call the kernel would <em>accept</em> is refused here before it reaches the kernel,
 * with {@link IllegalStateException}, because a registration made behind the pool's back could outlive
 * its memory, and an unregistration behind glibc's or the pool's back would leave them wrong. For real
 * registrations use {@link Rseq#register()} and {@link Rseq#unregister()}.
 *
 * <p>So a register attempt reaches the kernel only when the calling thread is already registered (by
 * glibc or pkrseq), or the length or alignment is one the kernel rejects, or the address is above user
 * space; an unregister attempt only when it names a different area, length or signature than the
 * thread's registration, or the thread has none.
 */
public final class RseqSyscall {
    private RseqSyscall() {
    }

    /**
     * {@code rseq(address, length, 0, signature)}, expected to fail.
     *
     * @param address the area to name
     * @param length the length to name
     * @param signature the signature to name
     * @throws RseqException always, with the kernel's errno and its meaning here
     * @throws IllegalStateException when the kernel would accept the call: use {@link Rseq#register()}
     * @throws UnsupportedOperationException on a virtual thread
     */
    public static void register(long address, int length, int signature) {
        Rseq.requirePlatformThread("RseqSyscall.register");
        RseqException.ThreadState state = Rseq.threadState();
        boolean kernelMustRefuse = state.owner() != Owner.NONE
                || RseqException.badLayout(address, length, Rseq.kernelFeatureSize(), Rseq.alignOrDefault()) != null
                || address < 0;
        if (!kernelMustRefuse) {
            throw new IllegalStateException("rseq(" + RseqException.hex(address) + ", " + length
                    + ", 0, ...) would register memory the pool does not own for a thread pkrseq sees unregistered;"
                    + " use Rseq.register()");
        }
        call(RseqException.Operation.REGISTER, address, length, 0, signature, state);
        throw new IllegalStateException("the kernel accepted rseq(" + RseqException.hex(address) + ", " + length
                + ", 0, ...) although pkrseq expected a refusal");
    }

    /**
     * {@code rseq(address, length, RSEQ_FLAG_UNREGISTER, signature)}, expected to fail.
     *
     * @param address the area to name
     * @param length the length to name
     * @param signature the signature to name
     * @throws RseqException always, with the kernel's errno and its meaning here
     * @throws IllegalStateException when the call names the thread's registration exactly: use
     *     {@link Rseq#unregister()} for pkrseq's own, and never undo glibc's
     * @throws UnsupportedOperationException on a virtual thread
     */
    public static void unregister(long address, int length, int signature) {
        Rseq.requirePlatformThread("RseqSyscall.unregister");
        RseqException.ThreadState state = Rseq.threadState();
        // glibc's registered length varies by version: never let a call that names its area through.
        if (state.owner() != Owner.NONE && state.address() == address && state.signature() == signature
                && (state.owner() == Owner.GLIBC || state.length() == length)) {
            throw new IllegalStateException("rseq(" + RseqException.hex(address) + ", " + length
                    + ", RSEQ_FLAG_UNREGISTER, ...) names this thread's registration by " + state.owner()
                    + (state.owner() == Owner.PKRSEQ ? "; use Rseq.unregister()" : ", which pkrseq never undoes"));
        }
        call(RseqException.Operation.UNREGISTER, address, length, Sys.RSEQ_FLAG_UNREGISTER, signature, state);
        throw new IllegalStateException("the kernel accepted an unregistration of " + RseqException.hex(address)
                + " that pkrseq expected it to refuse");
    }

    /**
     * Whether rseq works in this process: {@code rseq(NULL, 0, 0, 0)}, a call that can never register
     * anything, gives EINVAL where it does. ENOSYS means the kernel has no rseq (or a filter pretends so);
     * any other errno means something denies it (a seccomp filter, a security module).
     *
     * @return true only when the call gave EINVAL; {@link #availability()} says why not
     */
    public static boolean kernelSupportsRseq() {
        return availability().available();
    }

    /**
     * What {@code rseq(NULL, 0, 0, 0)} answers in this process, for reporting why rseq does not work by
     * name. Asked anew each time: a seccomp filter can be installed while the process runs.
     *
     * @return the answer
     */
    public static Availability availability() {
        try {
            Sys.rseq(0, 0, 0, 0);
        } catch (NativeException e) {
            return new Availability(e.errno(), e.errnoValue());
        }
        throw new IllegalStateException("the kernel accepted rseq(NULL, 0, 0, 0)");
    }

    /**
     * The answer to {@code rseq(NULL, 0, 0, 0)}.
     *
     * @param errno the errno by name ({@link Errno#UNKNOWN} for a number outside the table)
     * @param errnoValue the errno as a number
     */
    public record Availability(Errno errno, int errnoValue) {
        /**
         * Whether rseq works: the kernel checked the arguments and found them invalid (EINVAL).
         *
         * @return true for EINVAL
         */
        public boolean available() {
            return errno == Errno.EINVAL;
        }

        /**
         * Whether the kernel has no rseq system call (ENOSYS), or a filter answers as if it had none.
         *
         * @return true for ENOSYS
         */
        public boolean missing() {
            return errno == Errno.ENOSYS;
        }

        /**
         * Whether something other than the kernel's rseq refused the call: an errno that
         * {@code rseq(NULL, 0, 0, 0)} never gives by itself, such as a seccomp filter's EPERM.
         *
         * @return true for any errno but EINVAL and ENOSYS
         */
        public boolean denied() {
            return !available() && !missing();
        }

        /**
         * Why rseq does not work, in words, naming the errno.
         *
         * @return null when it works
         */
        public String reason() {
            if (available()) {
                return null;
            }
            if (missing()) {
                return RseqException.NOT_SUPPORTED;
            }
            return RseqException.denied(errno, errnoValue);
        }
    }

    /** Makes the call, turning a failure into an explained {@link RseqException}. */
    static void call(RseqException.Operation op, long address, int length, int flags, int signature,
            RseqException.ThreadState state) {
        try {
            Sys.rseq(address, length, flags, signature);
        } catch (NativeException e) {
            throw new RseqException(op, e, RseqException.explain(op, e.errno(), address, length, signature, state,
                    Rseq.kernelFeatureSize(), Rseq.alignOrDefault()));
        }
    }
}
