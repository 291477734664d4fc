package dev.pkrseq;

/**
 * Refused: tagging a segment whose pages are not the caller's alone to tag. The {@link #reason()} says
 * which rule the segment broke.
 *
 * <p>Tagging without {@link dev.pkrseq.pkey.Hazard#MAY_KILL_THIS_JVM} accepts only memory pkrseq mapped itself with
 * {@link dev.pkrseq.pkey.Pages#allocate} and will unmap itself, through that segment or a slice of it. Anything else is
 * refused by what it is ({@link Reason#MALLOC}, {@link Reason#THREAD}, {@link Reason#FILE},
 * {@link Reason#ANONYMOUS}, {@link Reason#NOT_MAPPED}, {@link Reason#ALIAS}), named from smaps in the
 * message, before any system call.
 */
public final class UntaggableSegmentException extends MisuseException {
    private static final long serialVersionUID = 1L;

    /** Why a segment cannot be tagged. */
    public enum Reason {
        /** A heap segment: its pages hold Java objects the JVM touches from every thread. */
        HEAP,
        /** The start is not on a page boundary, so the first page holds bytes outside the segment. */
        UNALIGNED,
        /** The size is not a whole number of pages (or is zero), so the last page holds bytes outside it. */
        PARTIAL_PAGES,
        /** The segment's arena is closed: its pages may be unmapped or already reused. */
        CLOSED,
        /**
         * Memory of the C heap: {@code [heap]}, or a glibc malloc arena (a heap at the start of a 64 MiB-aligned
         * block, known by its {@code heap_info} header). Where {@code Arena.allocate} puts its segments: their
         * pages hold other chunks too, and go back to malloc when the arena closes.
         */
        MALLOC,
        /**
         * The calling thread's own stack, TCB and static TLS, or DTV, or the initial thread's
         * {@code [stack]}: the JVM touches them on every call.
         */
        THREAD,
        /** A mapping of a file: libjvm.so's data, the class data archive, a jar, a file the program mapped. */
        FILE,
        /**
         * Anonymous memory pkrseq did not map: the Java heap, JIT code, metaspace, other threads' stacks, a
         * large malloc chunk, or another {@code mmap}.
         */
        ANONYMOUS,
        /** Nothing is mapped there. */
        NOT_MAPPED,
        /**
         * pkrseq's own pages, but reached through a segment that is not the one {@link dev.pkrseq.pkey.Pages#allocate}
         * returned or a slice of it (for example {@code MemorySegment.ofAddress(a).reinterpret(n)}): its
         * scope is not the arena's, so the arena could close and unmap the pages during the call.
         */
        ALIAS,
        /** A page walk longer than {@link dev.pkrseq.pkey.PageWalk#MAX_PAGES} pages: one system call and report entry each. */
        TOO_MANY_PAGES
    }

    /** Why the segment cannot be tagged. */
    private final Reason reason;

    /**
     * Creates the exception; pkrseq's guards throw it before any system call.
     *
     * @param reason which rule the segment broke
     * @param message what was refused and why, and what to do instead
     */
    public UntaggableSegmentException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    /**
     * Which rule the segment broke.
     *
     * @return the reason
     */
    public Reason reason() {
        return reason;
    }
}
