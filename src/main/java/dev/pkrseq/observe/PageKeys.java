package dev.pkrseq.observe;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import dev.pkrseq.pkey.PageWalk;
import dev.pkrseq.proc.Smaps;
import dev.pkrseq.proc.Vma;
import dev.pkrseq.sys.Sys;

/**
 * Which protection key each page of a range carries, and how many mappings (VMAs) the range spans now,
 * from one read of /proc/self/smaps. Tagging part of a mapping splits it, so the mapping count shows the
 * splits.
 *
 * @param address the range's first page
 * @param pageSize bytes per page
 * @param keys one entry per page: the key, or null where nothing is mapped; 0 where the kernel does not
 *     report keys
 * @param mappings how many mappings share a byte with the range
 */
public record PageKeys(long address, long pageSize, List<Integer> keys, int mappings) {
    /** The most pages a report covers, as many as a page walk takes: one list entry each. */
    public static final long MAX_PAGES = PageWalk.MAX_PAGES;

    /**
     * Creates a report.
     *
     * @param address first page
     * @param pageSize page size
     * @param keys per-page keys, null for unmapped pages (copied)
     * @param mappings mapping count
     */
    public PageKeys {
        keys = Collections.unmodifiableList(new ArrayList<>(keys));
    }

    /**
     * The keys of a segment's pages, now.
     *
     * @param segment native memory; a partial last page counts as a page
     * @return the report
     */
    public static PageKeys of(MemorySegment segment) {
        return of(segment.address(), segment.byteSize());
    }

    /**
     * The keys of a range's pages, now.
     *
     * @param address start, rounded down to a page
     * @param length bytes, rounded up to whole pages
     * @return the report
     * @throws IllegalArgumentException as {@link #of(List, long, long)}
     */
    public static PageKeys of(long address, long length) {
        return of(Smaps.self(), address, length);
    }

    /**
     * The keys of a range's pages in a given smaps snapshot.
     *
     * @param vmas the snapshot, in address order
     * @param address start, rounded down to a page
     * @param length bytes, rounded up to whole pages; at most {@link #MAX_PAGES} pages
     * @return the report
     * @throws IllegalArgumentException for a negative length, a range past the end of the address space, or
     *     more than {@link #MAX_PAGES} pages
     */
    public static PageKeys of(List<Vma> vmas, long address, long length) {
        long page = Sys.pageSize();
        long start = address & -page;
        if (length < 0 || Long.compareUnsigned(length, -1L - address - (page - 1)) > 0) {
            throw new IllegalArgumentException("no such range: " + length + " bytes from 0x" + Long.toHexString(address));
        }
        long end = (address + length + page - 1) & -page;
        long pages = Long.divideUnsigned(end - start, page);
        if (pages > MAX_PAGES) {
            throw new IllegalArgumentException("a page-keys report covers at most " + MAX_PAGES + " pages, not " + pages
                    + ": ask for the part that matters");
        }
        List<Vma> over = Smaps.overlapping(vmas, start, end);
        List<Integer> keys = new ArrayList<>();
        int v = 0;
        for (long a = start; a < end; a += page) {
            while (v < over.size() && Long.compareUnsigned(over.get(v).end(), a) <= 0) {
                v++;
            }
            keys.add(v < over.size() && over.get(v).contains(a) ? over.get(v).key() : null);
        }
        return new PageKeys(start, page, keys, over.size());
    }

    /**
     * One page's key.
     *
     * @param index 0 for the first page
     * @return the key, or null when nothing is mapped there
     */
    public Integer key(int index) {
        return keys.get(index);
    }

    /**
     * How many pages the range has.
     *
     * @return the page count
     */
    public int pages() {
        return keys.size();
    }

    /**
     * The keys as a list, unmapped pages shown as {@code -}.
     *
     * @return for example {@code [0, 3, 0] in 3 mappings}
     */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < keys.size(); i++) {
            sb.append(i == 0 ? "" : ", ").append(keys.get(i) == null ? "-" : keys.get(i).toString());
        }
        return sb.append("] in ").append(mappings).append(mappings == 1 ? " mapping" : " mappings").toString();
    }
}
