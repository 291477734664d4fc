package dev.pkrseq.rseq;

/**
 * The kernel's struct rseq ABI (include/uapi/linux/rseq.h): field offsets, sizes and constants.
 *
 * <p>struct rseq is aligned to 32 bytes. The original allocation is 32 bytes, of which the original
 * ABI uses 20 (the "feature size" of kernels before 6.3). Linux 6.3 added node_id and mm_cid, for a
 * feature size of 28, reported in {@code AT_RSEQ_FEATURE_SIZE}.
 */
public final class RseqAbi {
    /** {@code __u32 cpu_id_start}: always a valid CPU number once registered. Kernel-owned. */
    public static final int CPU_ID_START = 0;
    /** {@code __u32 cpu_id}: the current CPU, or -1 (uninitialised) or -2 (registration failed). Kernel-owned. */
    public static final int CPU_ID = 4;
    /** {@code __u64 rseq_cs}: pointer to the active critical-section descriptor. Owned by the application. */
    public static final int RSEQ_CS = 8;
    /** {@code __u32 flags}. */
    public static final int FLAGS = 16;
    /** {@code __u32 node_id} (Linux 6.3+). Kernel-owned. */
    public static final int NODE_ID = 20;
    /** {@code __u32 mm_cid}: the concurrency id, dense per process (Linux 6.3+). Kernel-owned. */
    public static final int MM_CID = 24;

    /** The feature size of the original ABI, and what {@code AT_RSEQ_FEATURE_SIZE} absent means. */
    public static final int ORIGINAL_FEATURE_SIZE = 20;
    /** The smallest length {@code rseq(2)} accepts, and the original allocation. */
    public static final int MIN_LENGTH = 32;
    /** The alignment the original ABI requires, and what {@code AT_RSEQ_ALIGN} absent means. */
    public static final int MIN_ALIGN = 32;

    /** {@code RSEQ_CPU_ID_UNINITIALIZED}. */
    public static final int CPU_ID_UNINITIALIZED = -1;
    /** {@code RSEQ_CPU_ID_REGISTRATION_FAILED}: glibc writes it when it did not register the thread. */
    public static final int CPU_ID_REGISTRATION_FAILED = -2;

    /** {@code RSEQ_SIG} on x86_64: the four bytes that must precede every abort handler. */
    public static final int SIGNATURE_X86_64 = 0x53053053;

    private RseqAbi() {
    }

    /**
     * Whether a field lies wholly within a covered length.
     *
     * @param offset field offset
     * @param covered bytes both registered and supported by the kernel
     * @return true when {@code offset + 4 <= covered}
     */
    static boolean covers(int covered, int offset) {
        return offset + 4 <= covered;
    }
}
