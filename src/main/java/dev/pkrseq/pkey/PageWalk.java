package dev.pkrseq.pkey;

import java.util.List;

import dev.pkrseq.sys.Errno;

/**
 * The report of a page-by-page tagging: one pkey_mprotect per page, as IA2's loader change does, so
 * that an unmapped page stops only itself, not the pages after it.
 *
 * @param key the key the walk applied
 * @param prot the protection it applied, {@code PROT_*}
 * @param pages one entry per page, in address order
 */
public record PageWalk(int key, int prot, List<Page> pages) {
    /**
     * The longest walk {@link ProtectionKey#tagPages} makes: 262,144 pages (1 GiB of 4 KiB pages). Each page
     * costs a system call and an entry here, so a longer segment is refused up front
     * ({@link UntaggableSegmentException.Reason#TOO_MANY_PAGES}).
     */
    public static final int MAX_PAGES = 1 << 18;

    /** What happened to one page. */
    public enum Status {
        /** pkey_mprotect succeeded: the page now carries the key. */
        TAGGED,
        /** pkey_mprotect failed with ENOMEM: nothing is mapped there. */
        NOT_MAPPED,
        /** pkey_mprotect failed with another errno, named in {@link Page#errno()}. */
        FAILED
    }

    /**
     * One page of the walk.
     *
     * @param address the page's start
     * @param status what happened
     * @param errno the failure, null when tagged
     */
    public record Page(long address, Status status, Errno errno) {
        @Override
        public String toString() {
            return String.format("0x%x %s%s", address, status, errno == null ? "" : " (" + errno + ")");
        }
    }

    /**
     * Creates a report.
     *
     * @param key the key
     * @param prot the protection
     * @param pages the pages, copied
     */
    public PageWalk {
        pages = List.copyOf(pages);
    }

    /**
     * How many pages have a given status.
     *
     * @param status the status
     * @return the count
     */
    public long count(Status status) {
        return pages.stream().filter(p -> p.status() == status).count();
    }

    /**
     * The pages with a given status.
     *
     * @param status the status
     * @return their entries, in address order
     */
    public List<Page> with(Status status) {
        return pages.stream().filter(p -> p.status() == status).toList();
    }

    /**
     * Whether every page was tagged.
     *
     * @return true when no page was unmapped or failed
     */
    public boolean complete() {
        return pages.stream().allMatch(p -> p.status() == Status.TAGGED);
    }
}
