package dev.pkrseq.pkey;

/**
 * Refused: tagging a segment whose pages are not the caller's alone to tag. The {@link #reason()} says
 * which rule the segment broke.
 *
 * <p>Tagging without {@link Hazard#MAY_KILL_THIS_JVM} accepts only memory pkrseq mapped itself with
 * {@link Pages#allocate} and will unmap itself, through that segment or a slice of it. Anything else is
 * refused by what it is ({@link Reason#MALLOC}, {@link Reason#THREAD}, {@link Reason#FILE},
 * {@link Reason#ANONYMOUS}, {@link Reason#NOT_MAPPED}, {@link Reason#ALIAS}), named from smaps in the
 * message, before any system call.
 */
public final class UntaggableSegmentException extends PkeyMisuseException {
    private static final long serialVersionUID = 1L;

    private static final String USE_PAGES = "pkrseq tags only pages it mapped itself: use Pages.allocate(arena, n), or"
            + " pass Hazard.MAY_KILL_THIS_JVM in a JVM you can afford to lose";

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
         * pkrseq's own pages, but reached through a segment that is not the one {@link Pages#allocate}
         * returned or a slice of it (for example {@code MemorySegment.ofAddress(a).reinterpret(n)}): its
         * scope is not the arena's, so the arena could close and unmap the pages during the call.
         */
        ALIAS,
        /** A page walk longer than {@link PageWalk#MAX_PAGES} pages: one system call and report entry each. */
        TOO_MANY_PAGES
    }

    private final Reason reason;

    private UntaggableSegmentException(Reason reason, String message) {
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

    static UntaggableSegmentException heap(String action) {
        return new UntaggableSegmentException(Reason.HEAP, "cannot " + action + " a heap segment: its pages hold Java"
                + " objects that the JVM touches from every thread; use native memory, for example Pages.allocate(arena, n)");
    }

    static UntaggableSegmentException unaligned(String action, long address) {
        return new UntaggableSegmentException(Reason.UNALIGNED, String.format("cannot %s a segment at 0x%x: it does not"
                + " start on a page boundary (page size %d), so its first page holds memory outside it", action, address,
                Pages.size()));
    }

    static UntaggableSegmentException partialPages(String action, long size) {
        return new UntaggableSegmentException(Reason.PARTIAL_PAGES, size == 0
                ? "cannot " + action + " an empty segment: it covers no page"
                : String.format("cannot %s a segment of %d bytes: it is not a whole number of %d-byte pages, so its last"
                        + " page holds memory outside it", action, size, Pages.size()));
    }

    static UntaggableSegmentException closed(String action) {
        return new UntaggableSegmentException(Reason.CLOSED, "cannot " + action + " a segment whose arena is closed: its"
                + " pages may be unmapped or already reused");
    }

    static UntaggableSegmentException tooManyPages(long pages) {
        return new UntaggableSegmentException(Reason.TOO_MANY_PAGES, String.format("cannot walk %d pages one by one: a"
                + " walk makes one pkey_mprotect call and one report entry per page and is limited to %d pages; tag"
                + " the segment in one call with protect(segment, prot), or walk slices of it", pages, PageWalk.MAX_PAGES));
    }

    static UntaggableSegmentException alias(String action, long start, long end) {
        return new UntaggableSegmentException(Reason.ALIAS, String.format("cannot %s 0x%x-0x%x through this segment: the"
                + " pages are pkrseq's, but the segment is not the one Pages.allocate returned nor a slice of it (its"
                + " scope is not the arena's), so the arena could close and unmap them during the call; tag that"
                + " segment or a slice of it", action, start, end));
    }

    /**
     * Memory pkrseq did not map.
     *
     * @param what for example "the C heap ([heap] 0x...-0x...)"
     * @param consequence what tagging it would do
     */
    static UntaggableSegmentException notOwned(Reason reason, String action, long start, long end, String what,
            String consequence) {
        return new UntaggableSegmentException(reason, String.format("cannot %s 0x%x-0x%x: it is not memory pkrseq"
                + " mapped but %s, %s; %s", action, start, end, what, consequence, USE_PAGES));
    }
}
