package dev.pkrseq.rseq;

import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;

import dev.pkrseq.sys.Sys;

/**
 * What the kernel and the C library say about rseq, and the calling thread's area.
 *
 * <p>glibc 2.35+ registers every thread it creates and exports {@code __rseq_offset} (from the thread
 * pointer to the area), {@code __rseq_size} (0 when it did not register) and {@code __rseq_flags}.
 * The kernel passes {@code AT_RSEQ_FEATURE_SIZE} and {@code AT_RSEQ_ALIGN} in the auxiliary vector
 * from Linux 6.3.
 */
public final class Rseq {
    private static final OptionalLong GLIBC_OFFSET = Sys.longSymbol("__rseq_offset");
    private static final int GLIBC_SIZE = Sys.intSymbol("__rseq_size").orElse(0);
    private static final OptionalInt FEATURE_SIZE = auxv(Sys.AT_RSEQ_FEATURE_SIZE);
    private static final OptionalInt ALIGN = auxv(Sys.AT_RSEQ_ALIGN);

    private Rseq() {
    }

    /**
     * glibc's {@code __rseq_offset}.
     *
     * @return the offset from the thread pointer to each thread's area, or empty when the C library
     *     does not export it (glibc before 2.35, musl)
     */
    public static OptionalLong glibcOffset() {
        return GLIBC_OFFSET;
    }

    /**
     * glibc's {@code __rseq_size}.
     *
     * @return the registered size glibc advertises: 0 when it registers nothing (for example under
     *     {@code GLIBC_TUNABLES=glibc.pthread.rseq=0}); 20 or 32 for the original ABI
     */
    public static int glibcSize() {
        return GLIBC_SIZE;
    }

    /**
     * {@code AT_RSEQ_FEATURE_SIZE}.
     *
     * @return how much of struct rseq this kernel fills in, or empty before Linux 6.3
     */
    public static OptionalInt featureSize() {
        return FEATURE_SIZE;
    }

    /**
     * {@code AT_RSEQ_ALIGN}.
     *
     * @return the alignment a registered area must have, or empty before Linux 6.3
     */
    public static OptionalInt align() {
        return ALIGN;
    }

    /**
     * The bytes of struct rseq this kernel writes.
     *
     * @return {@code AT_RSEQ_FEATURE_SIZE}, or 20 when the kernel does not say
     */
    public static int kernelFeatureSize() {
        return FEATURE_SIZE.orElse(RseqAbi.ORIGINAL_FEATURE_SIZE);
    }

    /**
     * Who registered the calling thread's area.
     *
     * @return the owner, {@link Owner#NONE} when nobody did
     */
    public static Owner owner() {
        return current().map(RseqArea::owner).orElse(Owner.NONE);
    }

    /**
     * The calling thread's registered area.
     *
     * <p>glibc's area counts only when {@code __rseq_size > 0} and its {@code cpu_id} is a CPU: a
     * checkpoint/restore can leave {@code cpu_id == -2} behind. Do not keep the result across a
     * virtual thread's yields: the carrier, and with it the area, can change.
     *
     * @return the area, or empty when the thread is not registered
     */
    public static Optional<RseqArea> current() {
        if (GLIBC_SIZE > 0 && GLIBC_OFFSET.isPresent()) {
            RseqArea area = new RseqArea(Sys.threadPointer() + GLIBC_OFFSET.getAsLong(), glibcCovered(), Owner.GLIBC);
            if (area.cpuId() >= 0) {
                return Optional.of(area);
            }
        }
        return Optional.empty();
    }

    /**
     * The raw {@code cpu_id} word glibc keeps at thread pointer + {@code __rseq_offset}, registered or
     * not: -2 tells that glibc chose not to register the thread.
     *
     * @return the word, or empty when glibc exports no offset
     */
    public static OptionalInt glibcCpuIdWord() {
        if (GLIBC_OFFSET.isEmpty()) {
            return OptionalInt.empty();
        }
        return OptionalInt.of(Sys.memory(Sys.threadPointer() + GLIBC_OFFSET.getAsLong(), RseqAbi.MIN_LENGTH)
                .get(java.lang.foreign.ValueLayout.JAVA_INT, RseqAbi.CPU_ID));
    }

    // glibc's __rseq_size of 20 or 32 both mean the original 20-byte ABI; 2.41+ reports the feature size.
    private static int glibcCovered() {
        int advertised = GLIBC_SIZE == RseqAbi.MIN_LENGTH ? RseqAbi.ORIGINAL_FEATURE_SIZE : GLIBC_SIZE;
        return Math.min(advertised, kernelFeatureSize());
    }

    private static OptionalInt auxv(long type) {
        long v = Sys.getauxval(type);
        return v == 0 ? OptionalInt.empty() : OptionalInt.of((int) v);
    }
}
