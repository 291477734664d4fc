package dev.pkrseq.tls;

import java.util.Optional;
import java.util.OptionalLong;

import dev.pkrseq.Mapping;

/**
 * glibc's {@code TLS_TCB_SIZE} on x86_64, which is {@code sizeof (struct pthread)}, derived at run time:
 * glibc does not export it.
 *
 * <h2>Method</h2>
 * <b>Witness: the end of the thread's stack mapping.</b> For a thread that {@code pthread_create}
 * started on a stack glibc allocated, {@code allocate_stack} (nptl/allocatestack.c) places the thread
 * descriptor at the top of the mapping:
 * <pre>pd = ((mem + size) - TLS_TCB_SIZE) &amp; ~(dl_tls_static_align - 1)</pre>
 * and the thread pointer is {@code pd} (TLS_TCB_AT_TP). {@code mem + size} is page-aligned, so
 * {@code end - tp} is {@code TLS_TCB_SIZE} rounded up to the static TLS alignment, provided the
 * alignment is at most a page. {@code struct pthread} is aligned to {@code TCB_ALIGNMENT} (64 on x86_64),
 * so its size is a multiple of 64: when the static alignment is at most 64 the witness is
 * {@code TLS_TCB_SIZE} exactly. The mapping is the VMA that holds tp in smaps; a witness larger than a
 * page means tp is not at the top of a stack (the initial thread, a user-supplied stack, or a VMA the
 * kernel merged with its neighbour) and is rejected.
 *
 * <p><b>Cross-check: {@code __rseq_offset}.</b> glibc 2.35 to 2.40 keep the thread's struct rseq in
 * {@code struct pthread} as its last member ({@code rseq_area}, 32 bytes, aligned to 32), and export
 * its offset from tp. So {@code __rseq_offset + 32 <= TLS_TCB_SIZE}, and with nothing after it
 * {@code TLS_TCB_SIZE == roundup(__rseq_offset + 32, 64)}. Here: 2336 + 32 = 2368, and the witness is
 * 2368. When the witness is missing, this is the fallback; when the static alignment exceeds 64 it
 * pins the size inside the witness's rounding. glibc 2.41+ moved the rseq area into static TLS (a
 * negative offset): the cross-check then does not apply.
 *
 * @param bytes the size used for the bounds: {@code TLS_TCB_SIZE}, exactly when {@link #exact()}
 * @param method which witness gave it
 * @param stackMappingEnd end of the VMA that holds tp when the stack witness applied, else null
 * @param witness {@code stackMappingEnd - tp}, else null
 * @param rseqOffset glibc's {@code __rseq_offset}, or null where it is not exported
 * @param exact whether {@code bytes} is {@code TLS_TCB_SIZE} itself rather than a rounded upper bound
 */
public record TcbSize(long bytes, Method method, Long stackMappingEnd, Long witness, Long rseqOffset, boolean exact) {
    /** {@code TCB_ALIGNMENT} on x86_64: struct pthread's alignment. */
    public static final long TCB_ALIGNMENT = 64;
    /** The rseq area glibc 2.35 to 2.40 reserve in struct pthread: the original 32-byte struct rseq. */
    public static final long RSEQ_AREA = 32;

    /** How the size was obtained. */
    public enum Method {
        /** End of the VMA that holds tp, minus tp: the thread descriptor sits at the top of its stack. */
        STACK_MAPPING_END,
        /** {@code roundup(__rseq_offset + 32, 64)}: the rseq area is struct pthread's last member. */
        RSEQ_OFFSET,
        /**
         * Taken from the calling thread's derivation: every thread of a process has the same
         * {@code struct pthread}. Used for a thread pkrseq looks at but does not run on.
         */
        CALLING_THREAD;

        @Override
        public String toString() {
            return switch (this) {
                case STACK_MAPPING_END -> "stack-mapping-end";
                case RSEQ_OFFSET -> "rseq-offset";
                case CALLING_THREAD -> "calling-thread";
            };
        }
    }

    /**
     * Whether {@code __rseq_offset} agrees: the rseq area lies inside the TCB and ends less than
     * {@link #TCB_ALIGNMENT} bytes before its end, as it does when it is struct pthread's last member.
     *
     * @return the verdict, or null when glibc exports no offset inside the TCB (before 2.35, or 2.41+)
     */
    public Boolean rseqAgrees() {
        if (rseqOffset == null || rseqOffset < 0) {
            return null;
        }
        long end = rseqOffset + RSEQ_AREA;
        return end <= bytes && bytes - end < TCB_ALIGNMENT;
    }

    /**
     * Derives the size for the calling thread (or any thread whose tp and mapping are known).
     *
     * @param tp the thread pointer
     * @param mapping the VMA that holds tp
     * @param staticAlign {@code dl_tls_static_align}
     * @param pageSize the page size
     * @param rseqOffset {@code __rseq_offset}
     * @return the size and how it was found
     * @throws UnsupportedOperationException when neither witness applies
     */
    static TcbSize derive(long tp, Optional<Mapping> mapping, long staticAlign, long pageSize, OptionalLong rseqOffset) {
        Long rseq = rseqOffset.isPresent() ? rseqOffset.getAsLong() : null;
        Long rseqEnd = rseq != null && rseq >= 0 ? rseq + RSEQ_AREA : null;
        if (mapping.isPresent()) {
            long w = mapping.get().end() - tp;
            if (w > 0 && w <= pageSize && (rseqEnd == null || rseqEnd <= w)) {
                long end = mapping.get().end();
                if (staticAlign <= TCB_ALIGNMENT) {
                    return new TcbSize(w, Method.STACK_MAPPING_END, end, w, rseq, true);
                }
                // The witness is TLS_TCB_SIZE rounded up to the static alignment: let the rseq area pin it.
                if (rseqEnd != null) {
                    long pinned = roundUp(rseqEnd, TCB_ALIGNMENT);
                    if (pinned > w - staticAlign && pinned <= w) {
                        return new TcbSize(pinned, Method.STACK_MAPPING_END, end, w, rseq, true);
                    }
                }
                return new TcbSize(w, Method.STACK_MAPPING_END, end, w, rseq, false);
            }
        }
        if (rseqEnd != null) {
            return new TcbSize(roundUp(rseqEnd, TCB_ALIGNMENT), Method.RSEQ_OFFSET, null, null, rseq, true);
        }
        throw new UnsupportedOperationException("cannot derive glibc's TCB size: the thread pointer 0x" + Long.toHexString(tp)
                + " is not at the top of a stack mapping, and glibc exports no __rseq_offset inside the TCB");
    }

    /**
     * The same size, for another thread of this process.
     *
     * @return a copy whose method is {@link Method#CALLING_THREAD}
     */
    TcbSize forAnotherThread() {
        return new TcbSize(bytes, Method.CALLING_THREAD, null, null, rseqOffset, exact);
    }

    static long roundUp(long v, long to) {
        return (v + to - 1) / to * to;
    }

    /**
     * One line on how the size was found, for reports.
     *
     * @return for example {@code end of the stack mapping - tp = 2368; __rseq_offset 2336 + 32 = 2368 agrees}
     */
    public String explain() {
        StringBuilder sb = new StringBuilder();
        if (method == Method.STACK_MAPPING_END) {
            sb.append("end of the stack mapping - tp = ").append(witness);
            if (witness != bytes) {
                sb.append(", pinned to ").append(bytes).append(" by __rseq_offset");
            } else if (!exact) {
                sb.append(" (TLS_TCB_SIZE rounded up to the static alignment)");
            }
        } else if (method == Method.RSEQ_OFFSET) {
            sb.append("roundup(__rseq_offset + 32, 64) = ").append(bytes)
                    .append(" (tp is not at the top of a stack mapping)");
        } else {
            sb.append("derived on the calling thread (one struct pthread per process)");
        }
        Boolean agrees = rseqAgrees();
        if (agrees != null && method != Method.RSEQ_OFFSET) {
            sb.append("; __rseq_offset ").append(rseqOffset).append(" + 32 = ").append(rseqOffset + RSEQ_AREA)
                    .append(agrees ? " agrees" : " DISAGREES");
        } else if (rseqOffset != null && rseqOffset < 0) {
            sb.append("; __rseq_offset ").append(rseqOffset).append(" lies below tp (glibc 2.41+): no cross-check");
        }
        return sb.toString();
    }
}
