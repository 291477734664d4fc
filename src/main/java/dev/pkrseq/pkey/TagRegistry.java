package dev.pkrseq.pkey;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;

import dev.pkrseq.proc.Smaps;
import dev.pkrseq.proc.Vma;

/**
 * Which page ranges of memory pkrseq does not own it tagged with which key
 * ({@link Hazard#MAY_KILL_THIS_JVM}: a thread's TLS, a stack, malloc memory), so that the PKRU guard can
 * answer "does this key tag this thread's stack, TLS or DTV?" without reading smaps. Pages pkrseq mapped
 * itself ({@link OwnedPages}) are never a thread's stack, TLS or DTV, so their tags are not recorded: a
 * key that tags only those costs the guard one volatile read.
 *
 * <p>Ranges never overlap; key 0 is never stored (it is what untracked pages carry). The guards that must
 * be exact (freeing a key) confirm with smaps; this map only says where to look. Callers that tag hold
 * this class's lock across the system call and the update, so the record follows the kernel's order.
 */
final class TagRegistry {
    /** start -> {end, key}. */
    private static final NavigableMap<Long, long[]> RANGES = new TreeMap<>();
    /** Bit k set while some range carries key k: read without the lock on every rights change. */
    private static volatile int keys;

    private TagRegistry() {
    }

    /**
     * Whether any recorded range carries a key: one volatile read, the guard's fast path.
     *
     * @param key 0 to 15
     * @return true when a range of memory pkrseq does not own carries the key
     */
    static boolean carries(int key) {
        return (keys & (1 << key)) != 0;
    }

    /** Records that {@code [start, end)} now carries {@code key} (0: forget the range). */
    static synchronized void assign(long start, long end, int key) {
        Map.Entry<Long, long[]> before = RANGES.lowerEntry(start);
        if (before != null && before.getValue()[0] > start) {
            long[] v = before.getValue();
            RANGES.put(before.getKey(), new long[] {start, v[1]});
            if (v[0] > end) {
                RANGES.put(end, new long[] {v[0], v[1]});
            }
        }
        Iterator<Map.Entry<Long, long[]>> it = RANGES.subMap(start, true, end, false).entrySet().iterator();
        List<long[]> tails = new ArrayList<>();
        while (it.hasNext()) {
            long[] v = it.next().getValue();
            if (v[0] > end) {
                tails.add(new long[] {end, v[0], v[1]});
            }
            it.remove();
        }
        for (long[] t : tails) {
            RANGES.put(t[0], new long[] {t[1], t[2]});
        }
        if (key != 0) {
            RANGES.put(start, new long[] {end, key});
        }
        recount();
    }

    /** Replaces what is known of {@code [start, end)} with what smaps shows now (after a failed call). */
    static synchronized void refresh(long start, long end) {
        List<Vma> vmas = Smaps.overlapping(Smaps.self(), start, end);
        assign(start, end, 0);
        for (Vma v : vmas) {
            if (v.key() != 0) {
                assign(Math.max(start, v.start()), Math.min(end, v.end()), v.key());
            }
        }
    }

    /** The first range of {@code key} that overlaps {@code [low, high)}, or null. */
    static synchronized long[] overlap(int key, long low, long high) {
        Map.Entry<Long, long[]> e = RANGES.lowerEntry(low);
        if (e != null && e.getValue()[0] > low && e.getValue()[1] == key) {
            return new long[] {e.getKey(), e.getValue()[0]};
        }
        for (Map.Entry<Long, long[]> r : RANGES.subMap(low, true, high, false).entrySet()) {
            if (r.getValue()[1] == key) {
                return new long[] {r.getKey(), r.getValue()[0]};
            }
        }
        return null;
    }

    /** Every range recorded for {@code key}, as {start, end} pairs in address order. */
    static synchronized List<long[]> rangesOf(int key) {
        List<long[]> out = new ArrayList<>();
        for (Map.Entry<Long, long[]> r : RANGES.entrySet()) {
            if (r.getValue()[1] == key) {
                out.add(new long[] {r.getKey(), r.getValue()[0]});
            }
        }
        return out;
    }

    /** Forgets every range of {@code key}. */
    static synchronized void clear(int key) {
        RANGES.values().removeIf(v -> v[1] == key);
        recount();
    }

    private static void recount() {
        int k = 0;
        for (long[] v : RANGES.values()) {
            k |= 1 << v[1];
        }
        keys = k;
    }
}
