package dev.pkrseq.pkey;

import java.lang.foreign.Arena;
import java.lang.ref.WeakReference;
import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;

import dev.pkrseq.sys.Sys;

/**
 * The mappings pkrseq made itself ({@link Pages#allocate}) and will unmap itself, each with the scope of
 * the segment that owns it: the only memory {@link ProtectionKey#protect} and
 * {@link ProtectionKey#tagPages} accept without {@link Hazard#MAY_KILL_THIS_JVM}.
 *
 * <p>A mapping enters the record before its segment can be used and leaves it in the arena's close
 * action, before munmap, under this class's lock; so no entry ever names memory that pkrseq unmapped.
 * A tagging whose segment has this scope is safe from the arena's close: the downcall that tags keeps the
 * scope alive ({@link Sys#pkeyMprotect(MemorySegment, int, int)}), so the pages cannot be unmapped while
 * the kernel changes them. What pkrseq cannot see is other code unmapping these pages behind its back
 * (a raw {@link Sys#munmap}, a foreign call): that voids the record for them.
 */
final class OwnedPages {
    /**
     * One mapping: {@code [start, end)}, unmapped when its scope closes. The scope is held weakly: an
     * automatic arena's scope must stay collectable, since its collection is what unmaps the pages.
     */
    record Mapping(long start, long end, WeakReference<MemorySegment.Scope> scope) {
        /** Whether a segment with this scope is the mapping's own segment or a slice of it. */
        boolean ownedThrough(MemorySegment.Scope s) {
            MemorySegment.Scope own = scope.get();
            return own != null && own.equals(s);
        }
    }

    /** start -> mapping; the mappings never overlap. */
    private static final NavigableMap<Long, Mapping> MAPPINGS = new TreeMap<>();

    private OwnedPages() {
    }

    /**
     * Binds freshly mapped memory to an arena and records it, in one step: an arena closing on another
     * thread meanwhile runs its close action (which takes this lock) only after the record exists.
     *
     * @return the segment; its arena's close forgets the mapping and unmaps it
     * @throws IllegalStateException when the arena is closed (then the memory is unmapped again)
     */
    static MemorySegment adopt(long address, long bytes, Arena arena) {
        synchronized (OwnedPages.class) {
            MemorySegment segment;
            try {
                segment = Sys.memory(address, bytes, arena, () -> release(address, bytes));
            } catch (RuntimeException e) {
                Sys.munmap(address, bytes);
                throw e;
            }
            MAPPINGS.put(address, new Mapping(address, address + bytes, new WeakReference<>(segment.scope())));
            // Tags pkrseq once recorded here for memory it did not map describe memory that is gone.
            TagRegistry.assign(address, address + bytes, 0);
            return segment;
        }
    }

    /** The arena's close action (on the closing thread, or the cleaner's for an automatic arena): must not throw. */
    private static void release(long address, long bytes) {
        synchronized (OwnedPages.class) {
            MAPPINGS.remove(address);
            TagRegistry.assign(address, address + bytes, 0);
            try {
                Sys.munmap(address, bytes);
            } catch (RuntimeException e) {
                // munmap of a range pkrseq mapped cannot fail; should it, the close action must still not throw.
            }
        }
    }

    /**
     * The recorded mapping that holds all of {@code [start, end)}.
     *
     * @return the mapping, or null when some byte of the range is not in one mapping pkrseq made
     */
    static synchronized Mapping containing(long start, long end) {
        Map.Entry<Long, Mapping> e = MAPPINGS.floorEntry(start);
        if (e == null || Long.compareUnsigned(e.getValue().end(), end) < 0) {
            return null;
        }
        return e.getValue();
    }

    /**
     * Whether an address lies in a mapping pkrseq made.
     *
     * @return true when it does
     */
    static synchronized boolean owns(long address) {
        Map.Entry<Long, Mapping> e = MAPPINGS.floorEntry(address);
        return e != null && Long.compareUnsigned(address, e.getValue().end()) < 0;
    }

    /**
     * The first address of {@code [start, end)} (page-aligned) that no mapping of pkrseq holds.
     *
     * @return the address, or -1 when every byte lies in pkrseq's mappings
     */
    static synchronized long firstNotOwned(long start, long end) {
        long a = start;
        while (Long.compareUnsigned(a, end) < 0) {
            Map.Entry<Long, Mapping> e = MAPPINGS.floorEntry(a);
            if (e == null || Long.compareUnsigned(a, e.getValue().end()) >= 0) {
                return a;
            }
            a = e.getValue().end();
        }
        return -1;
    }

    /**
     * How many mappings pkrseq holds now: for the leak check.
     *
     * @return the count
     */
    static synchronized int count() {
        return MAPPINGS.size();
    }
}
