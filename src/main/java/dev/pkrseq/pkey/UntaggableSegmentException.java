package dev.pkrseq.pkey;

/**
 * Refused: tagging a segment whose pages are not the caller's alone to tag. The {@link #reason()} says
 * which rule the segment broke.
 */
public final class UntaggableSegmentException extends PkeyMisuseException {
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
        CLOSED
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
}
