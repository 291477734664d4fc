package dev.pkrseq.rseq;

import dev.pkrseq.NativeException;
import dev.pkrseq.rseq.internal.RseqRefusals;
import dev.pkrseq.sys.RseqCalls;

/**
 * The {@code rseq(2)} system call with every failure named and explained ({@link RseqException}): the
 * registrations {@link Rseq} makes, and the refusals the lab provokes through {@link RseqRefusals}.
 *
 * <p>A refusal probe reaches the kernel only when the calling thread is already registered (by glibc or
 * pkrseq), or the length or alignment is one the kernel rejects, or the address is above user space; an
 * unregister probe only when it names a different area, length or signature than the thread's
 * registration, or the thread has none. Anything the kernel would accept is refused here first.
 */
final class RseqSyscall implements RseqRefusals.Probes {
    @Override
    public void register(long address, int length, int signature) {
        Rseq.requirePlatformThread("RseqRefusals.register");
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

    @Override
    public void unregister(long address, int length, int signature) {
        Rseq.requirePlatformThread("RseqRefusals.unregister");
        RseqException.ThreadState state = Rseq.threadState();
        // glibc's registered length varies by version: never let a call that names its area through.
        if (state.owner() != Owner.NONE && state.address() == address && state.signature() == signature
                && (state.owner() == Owner.GLIBC || state.length() == length)) {
            throw new IllegalStateException("rseq(" + RseqException.hex(address) + ", " + length
                    + ", RSEQ_FLAG_UNREGISTER, ...) names this thread's registration by " + state.owner()
                    + (state.owner() == Owner.PKRSEQ ? "; use Rseq.unregister()" : ", which pkrseq never undoes"));
        }
        call(RseqException.Operation.UNREGISTER, address, length, RseqCalls.RSEQ_FLAG_UNREGISTER, signature, state);
        throw new IllegalStateException("the kernel accepted an unregistration of " + RseqException.hex(address)
                + " that pkrseq expected it to refuse");
    }

    /** {@code rseq(NULL, 0, 0, 0)}, asked anew each time: a seccomp filter can be installed while the process runs. */
    static RseqAvailability availability() {
        try {
            RseqCalls.rseq(0, 0, 0, 0);
        } catch (NativeException e) {
            return new RseqAvailability(e.errno(), e.errnoValue());
        }
        throw new IllegalStateException("the kernel accepted rseq(NULL, 0, 0, 0)");
    }

    /** Makes the call, turning a failure into an explained {@link RseqException}. */
    static void call(RseqException.Operation op, long address, int length, int flags, int signature,
            RseqException.ThreadState state) {
        try {
            RseqCalls.rseq(address, length, flags, signature);
        } catch (NativeException e) {
            throw new RseqException(op, e, RseqException.explain(op, e.errno(), address, length, signature, state,
                    Rseq.kernelFeatureSize(), Rseq.alignOrDefault()));
        }
    }
}
