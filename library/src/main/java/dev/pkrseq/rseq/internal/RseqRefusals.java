package dev.pkrseq.rseq.internal;

import dev.pkrseq.rseq.Rseq;
import dev.pkrseq.rseq.RseqException;

/**
 * {@code rseq(2)} with arguments the kernel must refuse, each refusal named and explained
 * ({@link RseqException}), for the lab's experiments on the kernel's checks: "already registered"
 * (EINVAL), the same area twice (EBUSY), a wrong signature (EPERM), a bad length or alignment (EINVAL),
 * an address outside user space (EFAULT).
 *
 * <p>A call the kernel would <em>accept</em> never reaches it: it is refused with
 * {@link IllegalStateException}, because a registration made behind the pool's back could outlive its
 * memory, and an unregistration behind glibc's or the pool's back would leave them wrong. Real
 * registrations go through {@link Rseq#register()} and {@link Rseq#unregister()}.
 *
 * <p>The rseq package implements the probes and installs them when {@link Rseq} initializes (the JDK's
 * shared-secrets pattern), so the guard can read the thread's registration state without that state
 * becoming public API.
 */
public final class RseqRefusals {
    /** The probes, as the rseq package implements them. */
    public interface Probes {
        /**
         * {@code rseq(address, length, 0, signature)}, expected to fail.
         *
         * @param address the area to name
         * @param length the length to name
         * @param signature the signature to name
         */
        void register(long address, int length, int signature);

        /**
         * {@code rseq(address, length, RSEQ_FLAG_UNREGISTER, signature)}, expected to fail.
         *
         * @param address the area to name
         * @param length the length to name
         * @param signature the signature to name
         */
        void unregister(long address, int length, int signature);
    }

    private static volatile Probes probes;

    private RseqRefusals() {
    }

    /**
     * Installs the rseq package's probes; called once, by {@link Rseq}'s initialization.
     *
     * @param implementation the probes
     * @throws IllegalStateException when they are installed already
     */
    public static void install(Probes implementation) {
        if (probes != null) {
            throw new IllegalStateException("the rseq refusal probes are installed already");
        }
        probes = implementation;
    }

    /**
     * {@code rseq(address, length, 0, signature)}, expected to fail.
     *
     * @param address the area to name
     * @param length the length to name
     * @param signature the signature to name
     * @throws RseqException always, with the kernel's errno and its meaning here
     * @throws IllegalStateException when the kernel would accept the call: use {@link Rseq#register()}
     * @throws dev.pkrseq.VirtualThreadException on a virtual thread
     */
    public static void register(long address, int length, int signature) {
        probes().register(address, length, signature);
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
     * @throws dev.pkrseq.VirtualThreadException on a virtual thread
     */
    public static void unregister(long address, int length, int signature) {
        probes().unregister(address, length, signature);
    }

    private static Probes probes() {
        Probes p = probes;
        if (p == null) {
            // Naming Rseq.class does not initialize it; calling it does, and its initialization installs them.
            Rseq.signature();
            p = probes;
        }
        return p;
    }
}
