package dev.pkrseq.rseq;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.OptionalInt;

import dev.pkrseq.sys.Sys;

/**
 * A read-only view of one thread's struct rseq.
 *
 * <p>Every read is one opaque load: a plain {@code mov} on x86_64 that the JIT may not hoist out of a
 * loop, because the kernel rewrites the fields behind Java's back on every return to user space. The
 * view never writes: cpu_id_start, cpu_id, node_id and mm_cid belong to the kernel, which kills the
 * process for a write in its "v2" mode.
 *
 * <p>node_id and mm_cid are present only when both the registered length and the kernel's feature size
 * cover them; otherwise their accessors return empty rather than a misleading 0.
 */
public final class RseqArea {
    private static final VarHandle INT = JAVA_INT.varHandle();
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    private final MemorySegment area;
    private final int covered;
    private final Owner owner;

    RseqArea(long address, int covered, Owner owner) {
        this.area = Sys.memory(address, RseqAbi.MIN_LENGTH);
        this.covered = covered;
        this.owner = owner;
    }

    /**
     * The area's address.
     *
     * @return where struct rseq starts
     */
    public long address() {
        return area.address();
    }

    /**
     * Who registered this area.
     *
     * @return glibc or pkrseq
     */
    public Owner owner() {
        return owner;
    }

    /**
     * Bytes of the area that are both registered and written by this kernel.
     *
     * @return 20 for the original ABI, 28 with node_id and mm_cid
     */
    public int coveredLength() {
        return covered;
    }

    /**
     * {@code cpu_id_start}.
     *
     * @return a valid CPU number
     */
    public int cpuIdStart() {
        return (int) INT.getOpaque(area, (long) RseqAbi.CPU_ID_START);
    }

    /**
     * {@code cpu_id}: the CPU this thread last ran on, as the kernel wrote it on the latest return to
     * user space.
     *
     * @return the CPU, or a negative value when not registered
     */
    public int cpuId() {
        return (int) INT.getOpaque(area, (long) RseqAbi.CPU_ID);
    }

    /**
     * {@code rseq_cs}: the address of the active critical-section descriptor, 0 outside one.
     *
     * @return the pointer value
     */
    public long rseqCs() {
        return (long) LONG.getOpaque(area, (long) RseqAbi.RSEQ_CS);
    }

    /**
     * {@code flags}.
     *
     * @return the flags word
     */
    public int flags() {
        return (int) INT.getOpaque(area, (long) RseqAbi.FLAGS);
    }

    /**
     * {@code node_id}, if covered.
     *
     * @return the NUMA node, or empty when the registration or the kernel does not cover the field
     */
    public OptionalInt nodeId() {
        return RseqAbi.covers(covered, RseqAbi.NODE_ID)
                ? OptionalInt.of((int) INT.getOpaque(area, (long) RseqAbi.NODE_ID)) : OptionalInt.empty();
    }

    /**
     * {@code mm_cid}, if covered.
     *
     * @return the concurrency id, or empty when the registration or the kernel does not cover the field
     */
    public OptionalInt mmCid() {
        return RseqAbi.covers(covered, RseqAbi.MM_CID)
                ? OptionalInt.of((int) INT.getOpaque(area, (long) RseqAbi.MM_CID)) : OptionalInt.empty();
    }

    @Override
    public String toString() {
        return "RseqArea[0x" + Long.toHexString(address()) + ", " + owner + ", covered " + covered + "]";
    }
}
