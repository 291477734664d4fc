package dev.pkrseq.rseq;

/**
 * mm_cid indexing was asked for where the thread's registration does not cover {@code mm_cid}: glibc
 * 2.35 to 2.40 register struct rseq with {@code __rseq_size} 20, the original ABI, which ends before
 * {@code node_id} and {@code mm_cid}; or the kernel is older than 6.3 and writes no mm_cid. The message
 * says which, and what to do: run with {@code GLIBC_TUNABLES=glibc.pthread.rseq=0} so that pkrseq
 * registers its own areas (which cover mm_cid), or index by {@code cpu_id}.
 */
public final class MmCidUnavailableException extends UnsupportedOperationException {
    private static final long serialVersionUID = 1L;

    MmCidUnavailableException(String message) {
        super(message);
    }
}
