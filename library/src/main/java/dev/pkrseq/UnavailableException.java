package dev.pkrseq;

import java.util.Objects;

/**
 * A feature pkrseq needs does not work on this machine: the CPU or kernel lacks it, the kernel did not
 * enable it, or pkrseq does not support the architecture. The message says which, in words, and
 * {@link #feature()} says what. pkrseq throws this before anything that would raise SIGILL or make a
 * system call the kernel does not have.
 */
public final class UnavailableException extends UnsupportedOperationException {
    private static final long serialVersionUID = 1L;

    /** What is unavailable. */
    public enum Feature {
        /** Protection keys: the CPU lacks PKU, or the kernel did not enable it. */
        PKEYS,
        /** PKRU itself: RDPKRU/WRPKRU would raise SIGILL because the kernel did not set CR4.PKE. */
        PKRU,
        /** Restartable sequences: the kernel lacks rseq(2), or it is denied (seccomp, ENOSYS). */
        RSEQ,
        /**
         * mm_cid indexing: the kernel writes no mm_cid (before Linux 6.3), or the calling thread's struct rseq
         * registration does not cover it (glibc 2.35 to 2.40 register {@code __rseq_size} 20).
         */
        MM_CID,
        /** glibc: pkrseq reads glibc's own structures (the TLS map, its rseq registration). */
        GLIBC,
        /** The architecture: pkrseq's native layer knows x86_64 only. */
        ARCHITECTURE
    }

    /** What is unavailable; transient state is not kept in a serial form. */
    private final Feature feature;

    /**
     * Creates the exception.
     *
     * @param feature what is unavailable
     * @param message what is missing and why, in words
     */
    public UnavailableException(Feature feature, String message) {
        super(message);
        this.feature = Objects.requireNonNull(feature, "feature");
    }

    /**
     * What is unavailable.
     *
     * @return the feature
     */
    public Feature feature() {
        return feature;
    }
}
