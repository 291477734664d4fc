package dev.pkrseq.rseq;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/**
 * The kernel's struct rseq ABI (include/uapi/linux/rseq.h): the structs as layouts, the field offsets
 * derived from them, sizes and constants: the one place pkrseq takes a struct offset from, for the
 * readers and for the displacements and descriptors in the code (RseqCode) generates.
 *
 * <p>struct rseq is aligned to 32 bytes. The original allocation is 32 bytes, of which the original
 * ABI uses 20 (the "feature size" of kernels before 6.3). Linux 6.3 added node_id and mm_cid, for a
 * feature size of 28, reported in {@code AT_RSEQ_FEATURE_SIZE}.
 */
public final class RseqAbi {
    /**
     * {@code struct rseq}, with the kernel's field names, aligned to 32 bytes: 28 bytes of fields (20 before
     * Linux 6.3) and the padding the alignment gives it, {@code sizeof(struct rseq)} 32. The kernel owns
     * cpu_id_start, cpu_id, node_id and mm_cid; pkrseq never writes them.
     */
    public static final StructLayout STRUCT_RSEQ = MemoryLayout.structLayout(
            JAVA_INT.withName("cpu_id_start"),
            JAVA_INT.withName("cpu_id"),
            JAVA_LONG.withName("rseq_cs"),
            JAVA_INT.withName("flags"),
            JAVA_INT.withName("node_id"),
            JAVA_INT.withName("mm_cid"),
            MemoryLayout.paddingLayout(4)).withByteAlignment(32).withName("rseq");

    /**
     * {@code struct rseq_cs}, a critical section's descriptor, with the kernel's field names, aligned to 32
     * bytes. pkrseq's generated code embeds these in its page (see RseqCode).
     */
    public static final StructLayout STRUCT_RSEQ_CS = MemoryLayout.structLayout(
            JAVA_INT.withName("version"),
            JAVA_INT.withName("flags"),
            JAVA_LONG.withName("start_ip"),
            JAVA_LONG.withName("post_commit_offset"),
            JAVA_LONG.withName("abort_ip")).withByteAlignment(32).withName("rseq_cs");

    /** {@code __u32 cpu_id_start}: always a valid CPU number once registered. Kernel-owned. */
    public static final int CPU_ID_START = offset("cpu_id_start");
    /** {@code __u32 cpu_id}: the current CPU, or -1 (uninitialised) or -2 (registration failed). Kernel-owned. */
    public static final int CPU_ID = offset("cpu_id");
    /** {@code __u64 rseq_cs}: pointer to the active critical-section descriptor. Owned by the application. */
    public static final int RSEQ_CS = offset("rseq_cs");
    /** {@code __u32 flags}. */
    public static final int FLAGS = offset("flags");
    /** {@code __u32 node_id} (Linux 6.3+). Kernel-owned. */
    public static final int NODE_ID = offset("node_id");
    /** {@code __u32 mm_cid}: the concurrency id, dense per process (Linux 6.3+). Kernel-owned. */
    public static final int MM_CID = offset("mm_cid");

    /** struct rseq_cs {@code __u32 version}: 0. */
    public static final int CS_VERSION = csOffset("version");
    /** struct rseq_cs {@code __u32 flags}: 0 (the restart-inhibiting flags are deprecated). */
    public static final int CS_FLAGS = csOffset("flags");
    /** struct rseq_cs {@code __u64 start_ip}: the first instruction of the critical section. */
    public static final int CS_START_IP = csOffset("start_ip");
    /** struct rseq_cs {@code __u64 post_commit_offset}: the section's length; its end follows the commit. */
    public static final int CS_POST_COMMIT_OFFSET = csOffset("post_commit_offset");
    /** struct rseq_cs {@code __u64 abort_ip}: where the kernel resumes an aborted section. */
    public static final int CS_ABORT_IP = csOffset("abort_ip");
    /** {@code sizeof(struct rseq_cs)}. */
    public static final int CS_SIZE = (int) STRUCT_RSEQ_CS.byteSize();

    /** The feature size of the original ABI, and what {@code AT_RSEQ_FEATURE_SIZE} absent means. */
    public static final int ORIGINAL_FEATURE_SIZE = 20;
    /** The smallest length {@code rseq(2)} accepts, and the original allocation: {@code sizeof(struct rseq)}. */
    public static final int MIN_LENGTH = (int) STRUCT_RSEQ.byteSize();
    /** The alignment the original ABI requires, and what {@code AT_RSEQ_ALIGN} absent means. */
    public static final int MIN_ALIGN = (int) STRUCT_RSEQ.byteAlignment();

    /** {@code RSEQ_CPU_ID_UNINITIALIZED}. */
    public static final int CPU_ID_UNINITIALIZED = -1;
    /** {@code RSEQ_CPU_ID_REGISTRATION_FAILED}: glibc writes it when it did not register the thread. */
    public static final int CPU_ID_REGISTRATION_FAILED = -2;

    /** {@code RSEQ_SIG} on x86_64: the four bytes that must precede every abort handler. */
    public static final int SIGNATURE_X86_64 = 0x53053053;

    private RseqAbi() {
    }

    private static int offset(String field) {
        return (int) STRUCT_RSEQ.byteOffset(MemoryLayout.PathElement.groupElement(field));
    }

    /**
     * A field's offset in {@code struct rseq_cs}.
     *
     * @param field the kernel's field name
     * @return its byte offset
     */
    static int csOffset(String field) {
        return (int) STRUCT_RSEQ_CS.byteOffset(MemoryLayout.PathElement.groupElement(field));
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
