package dev.pkrseq.pkey;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import dev.pkrseq.proc.Smaps;
import dev.pkrseq.Mapping;
import org.junit.jupiter.api.Test;

/** Page-backed memory: its own anonymous mapping, unmapped with its arena. */
class PagesTest {

    @Test
    void pagesArePageAlignedZeroFilledAndWritable() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = Pages.allocate(arena, 3);
            assertEquals(0, s.address() % Pages.size());
            assertEquals(3 * Pages.size(), s.byteSize());
            assertEquals(3, Pages.count(s));
            for (long i = 0; i < s.byteSize() / 8; i++) {
                assertEquals(0, s.getAtIndex(JAVA_LONG, i));
            }
            s.set(JAVA_LONG, s.byteSize() - 8, 42);
            assertEquals(42, Pages.page(s, 2).get(JAVA_LONG, Pages.size() - 8));
        }
    }

    @Test
    void pagesAreAnAnonymousMappingOfTheirOwn() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = Pages.allocate(arena, 2);
            Mapping v = Smaps.containing(Smaps.self(), s.address()).orElseThrow();
            assertEquals("rw-p", v.perms());
            assertEquals("", v.path());
            assertEquals(0, v.inode());
            assertTrue(v.start() <= s.address() && v.end() >= s.address() + s.byteSize());
        }
    }

    @Test
    void closingTheArenaUnmapsThePages() {
        long address;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = Pages.allocate(arena, 4);
            address = s.address();
            // Make the range a mapping of its own, so that its disappearance is unambiguous.
            dev.pkrseq.sys.MemoryCalls.mprotect(address, s.byteSize(), dev.pkrseq.sys.MemoryCalls.PROT_READ);
        }
        assertTrue(Smaps.overlapping(Smaps.self(), address, address + 4 * Pages.size()).stream()
                .noneMatch(v -> v.perms().equals("r--p") && v.start() == address), "still mapped after close");
    }

    @Test
    void badCountsAndClosedArenasAreRefused() {
        try (Arena arena = Arena.ofConfined()) {
            assertEquals("page count must be at least 1, not 0",
                    assertThrows(IllegalArgumentException.class, () -> Pages.allocate(arena, 0)).getMessage());
            assertThrows(IllegalArgumentException.class, () -> Pages.allocate(arena, Long.MAX_VALUE / 2));
        }
        Arena closed = Arena.ofConfined();
        closed.close();
        assertEquals("cannot map pages for a closed arena",
                assertThrows(IllegalStateException.class, () -> Pages.allocate(closed, 1)).getMessage());
    }
}
