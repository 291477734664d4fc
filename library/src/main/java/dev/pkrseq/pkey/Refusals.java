package dev.pkrseq.pkey;

import dev.pkrseq.InvalidKeyException;
import dev.pkrseq.KeyInUseException;
import dev.pkrseq.KeyZeroException;
import dev.pkrseq.Mapping;
import dev.pkrseq.UntaggableSegmentException;
import dev.pkrseq.VirtualThreadException;

import java.util.List;
import java.util.stream.Collectors;

/**
 * The refusals of the pkey guards, worded once: each builds the named exception of the one misuse family
 * ({@link dev.pkrseq.MisuseException}) with a message that says what, why and what to do instead.
 */
final class Refusals {
    private static final int LISTED = 8;
    private static final String USE_PAGES = "pkrseq tags only pages it mapped itself: use Pages.allocate(arena, n), or"
            + " pass Hazard.MAY_KILL_THIS_JVM in a JVM you can afford to lose";

    private Refusals() {
    }

    static void requirePlatformThread(String action) {
        Thread t = Thread.currentThread();
        if (t.isVirtual()) {
            throw new VirtualThreadException("cannot " + action + " from virtual thread " + VirtualThreadException.describe(t)
                    + ": PKRU belongs to the carrier thread, and a virtual thread can move between carriers;"
                    + " use a platform thread");
        }
    }

    static void checkKey(int key) {
        if (key < 0 || key >= Pkru.KEYS) {
            throw new InvalidKeyException(key);
        }
    }

    static KeyZeroException denyKeyZero(Rights rights) {
        return new KeyZeroException("refusing to set key 0 to " + rights + ": key 0 tags the JVM's heap, stacks and code,"
                + " so denying it would kill the JVM");
    }

    static KeyZeroException freeKeyZero() {
        return new KeyZeroException("refusing to free key 0: it is the default key that every untagged page carries,"
                + " and it was never allocated");
    }

    static UntaggableSegmentException heap(String action) {
        return new UntaggableSegmentException(UntaggableSegmentException.Reason.HEAP, "cannot " + action + " a heap segment: its pages hold Java"
                + " objects that the JVM touches from every thread; use native memory, for example Pages.allocate(arena, n)");
    }

    static UntaggableSegmentException unaligned(String action, long address) {
        return new UntaggableSegmentException(UntaggableSegmentException.Reason.UNALIGNED, String.format("cannot %s a segment at 0x%x: it does not"
                + " start on a page boundary (page size %d), so its first page holds memory outside it", action, address,
                Pages.size()));
    }

    static UntaggableSegmentException partialPages(String action, long size) {
        return new UntaggableSegmentException(UntaggableSegmentException.Reason.PARTIAL_PAGES, size == 0
                ? "cannot " + action + " an empty segment: it covers no page"
                : String.format("cannot %s a segment of %d bytes: it is not a whole number of %d-byte pages, so its last"
                        + " page holds memory outside it", action, size, Pages.size()));
    }

    static UntaggableSegmentException closed(String action) {
        return new UntaggableSegmentException(UntaggableSegmentException.Reason.CLOSED, "cannot " + action + " a segment whose arena is closed: its"
                + " pages may be unmapped or already reused");
    }

    static UntaggableSegmentException tooManyPages(long pages) {
        return new UntaggableSegmentException(UntaggableSegmentException.Reason.TOO_MANY_PAGES, String.format("cannot walk %d pages one by one: a"
                + " walk makes one pkey_mprotect call and one report entry per page and is limited to %d pages; tag"
                + " the segment in one call with protect(segment, prot), or walk slices of it", pages, PageWalk.MAX_PAGES));
    }

    static UntaggableSegmentException alias(String action, long start, long end) {
        return new UntaggableSegmentException(UntaggableSegmentException.Reason.ALIAS, String.format("cannot %s 0x%x-0x%x through this segment: the"
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
    static UntaggableSegmentException notOwned(UntaggableSegmentException.Reason reason, String action, long start, long end, String what,
            String consequence) {
        return new UntaggableSegmentException(reason, String.format("cannot %s 0x%x-0x%x: it is not memory pkrseq"
                + " mapped but %s, %s; %s", action, start, end, what, consequence, USE_PAGES));
    }

    static KeyInUseException keyInUse(int key, List<Mapping> mappings) {
        return new KeyInUseException(key, mappings, keyInUseMessage(key, mappings));
    }

    private static String keyInUseMessage(int key, List<Mapping> mappings) {
        long pages = mappings.stream().mapToLong(v -> v.size() / Pages.size()).sum();
        String listed = mappings.stream().limit(LISTED)
                .map(v -> String.format("0x%x-0x%x %s (%d page%s)", v.start(), v.end(), v.perms(), v.size() / Pages.size(),
                        v.size() == Pages.size() ? "" : "s"))
                .collect(Collectors.joining(", "));
        if (mappings.size() > LISTED) {
            listed += " and " + (mappings.size() - LISTED) + " more mappings";
        }
        return "refusing to free protection key " + key + ": " + pages + " page" + (pages == 1 ? "" : "s")
                + " still carry it, and the next pkey_alloc would hand them to a new owner: " + listed
                + ". Close the arena that maps them first (declare the key before the arena in try-with-resources),"
                + " or retag them with ProtectionKey.DEFAULT.protect(segment, prot)"
                + (mappings.stream().allMatch(v -> OwnedPages.owns(v.start())) ? ""
                        : "; memory pkrseq did not map (tagged with Hazard.MAY_KILL_THIS_JVM) is handed back the same way:"
                                + " ProtectionKey.DEFAULT.protect(segment, prot, Hazard.MAY_KILL_THIS_JVM), with a segment"
                                + " over its pages, also after its arena closed");
    }
}
