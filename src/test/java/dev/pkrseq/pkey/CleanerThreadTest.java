package dev.pkrseq.pkey;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicReference;

import dev.pkrseq.proc.Smaps;
import dev.pkrseq.sys.Sys;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The library's own callback on a thread it does not control: an automatic arena's pages are unmapped by
 * the JDK's cleaner thread when the segment becomes unreachable. pkrseq's record of its mappings must follow
 * (no entry for memory the cleaner unmapped), a key that tagged them must become freeable, and a library call
 * made from a cleanup action on the cleaner thread must work like any other.
 */
@Tag("pku")
class CleanerThreadTest {
    private static final int RW = Sys.PROT_READ | Sys.PROT_WRITE;

    /** Collects garbage until the address is no longer pkrseq's, or 10 s pass; true when it is gone. */
    private static boolean collectUntilForgotten(long address) throws InterruptedException {
        for (int i = 0; i < 200 && OwnedPages.owns(address); i++) {
            System.gc();
            Thread.sleep(50);
        }
        return !OwnedPages.owns(address);
    }

    private static long unreachablePages(ProtectionKey key) {
        MemorySegment pages = Pages.allocate(Arena.ofAuto(), 4);
        if (key != null) {
            key.protect(pages, RW);
        }
        return pages.address();
    }

    @Test
    void anAutomaticArenasPagesAreUnmappedAndForgottenOnTheCleanerThread() throws Exception {
        long address = unreachablePages(null);
        assertTrue(OwnedPages.owns(address), "recorded while reachable");
        assertTrue(collectUntilForgotten(address), "the cleaner unmapped the pages and pkrseq forgot them");
        assertFalse(Smaps.containing(Smaps.self(), address).filter(v -> v.end() - v.start() == 4 * Pages.size())
                .filter(v -> v.start() == address).isPresent(), "the mapping is gone");
    }

    @Test
    void aKeyThatTaggedAnAutomaticArenasPagesIsFreeableOnceTheCleanerUnmappedThem() throws Exception {
        Features.assumePkeys();
        ProtectionKey key = ProtectionKey.allocate(Rights.NO_ACCESS);
        long address = unreachablePages(key);
        assertTrue(collectUntilForgotten(address));
        key.close();
        assertFalse(key.isOpen());
        assertTrue(Pkeys.mappingsCarrying(key.number()).isEmpty());
    }

    @Test
    void theLibraryWorksFromACleanupActionOnTheCleanerThread() throws Exception {
        AtomicReference<String> seen = new AtomicReference<>();
        ProtectionKey key = Features.pkeysWork() ? ProtectionKey.allocate(Rights.NO_ACCESS) : null;
        long address = cleanupThatUsesTheLibrary(key, seen);
        assertTrue(collectUntilForgotten(address));
        for (int i = 0; i < 200 && seen.get() == null; i++) {
            System.gc();
            Thread.sleep(50);
        }
        assertEquals("ok", seen.get(), "the cleanup action ran and the library answered as on any platform thread");
        if (key != null) {
            assertFalse(key.isOpen());
        }
    }

    /**
     * An automatic arena whose other cleanup action maps, tags and frees with pkrseq, on the cleaner thread,
     * after pkrseq's own action unmapped the arena's pages.
     */
    private static long cleanupThatUsesTheLibrary(ProtectionKey key, AtomicReference<String> seen) {
        Arena auto = Arena.ofAuto();
        Sys.memory(0, 0, auto, () -> {
            try (Arena inner = Arena.ofConfined()) {
                MemorySegment p = Pages.allocate(inner, 1);
                if (key != null) {
                    key.protect(p, RW);
                    ProtectionKey.DEFAULT.protect(p, RW);
                    key.close();
                }
                seen.set("ok");
            } catch (Throwable t) {
                seen.set(t.toString());
            }
        });
        return Pages.allocate(auto, 2).address();
    }
}
