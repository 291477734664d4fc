package dev.pkrseq.rseq;

/**
 * What a thread's own handle ({@link RseqArea}) and a view others may read ({@link RseqView}) both know
 * of one struct rseq: the thread it belongs to, where it is, who registered it and how much of it the
 * kernel writes. They differ in who may read the area and how, so each keeps its own reads.
 */
abstract sealed class RseqHandle permits RseqArea, RseqView {
    // Not private: the subclasses read them directly, the owner check and coverage checks included.
    final Thread thread;
    final int tid;
    final long address;
    final int covered;
    final Owner owner;

    RseqHandle(Thread thread, int tid, long address, int covered, Owner owner) {
        this.thread = thread;
        this.tid = tid;
        this.address = address;
        this.covered = covered;
        this.owner = owner;
    }

    /**
     * The thread whose struct rseq this is.
     *
     * @return the owning platform thread
     */
    public final Thread thread() {
        return thread;
    }

    /**
     * The owning thread's kernel task id.
     *
     * @return its tid
     */
    public final int tid() {
        return tid;
    }

    /**
     * The area's address.
     *
     * @return where struct rseq starts
     */
    public final long address() {
        return address;
    }

    /**
     * Who registered the area.
     *
     * @return glibc or pkrseq
     */
    public final Owner owner() {
        return owner;
    }

    /**
     * Bytes of the area that are both registered and written by this kernel.
     *
     * @return 20 for glibc's original ABI, 28 for pkrseq's registration on Linux 6.3+
     */
    public final int coveredLength() {
        return covered;
    }

    /**
     * Whether node_id is covered: the registered length and the kernel's feature size both include it.
     *
     * @return true with pkrseq's own registration on Linux 6.3+; false for glibc's 20-byte ABI
     */
    public final boolean coversNodeId() {
        return RseqAbi.covers(covered, RseqAbi.NODE_ID);
    }

    /**
     * Whether mm_cid is covered: the registered length and the kernel's feature size both include it.
     *
     * @return true with pkrseq's own registration on Linux 6.3+; false for glibc's 20-byte ABI
     */
    public final boolean coversMmCid() {
        return RseqAbi.covers(covered, RseqAbi.MM_CID);
    }
}
