package dev.pkrseq.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.io.StringReader;
import java.util.Arrays;
import java.util.List;

import dev.pkrseq.proc.Smaps;
import dev.pkrseq.Mapping;
import dev.pkrseq.sys.MemoryCalls;
import dev.pkrseq.testing.AnonPages;
import org.junit.jupiter.api.Test;

/** Per-page keys and mapping counts, from smaps. */
class PageKeysTest {

    @Test
    void eachPageGetsItsMappingsKeyAndHolesGetNull() throws Exception {
        List<Mapping> vmas = Smaps.parse(new StringReader("""
                10000-12000 rw-p 00000000 00:00 0
                ProtectionKey:         0
                13000-14000 rw-p 00000000 00:00 0
                ProtectionKey:         5
                14000-15000 r--p 00000000 00:00 0
                ProtectionKey:         5
                """));
        PageKeys p = PageKeys.of(vmas, 0x10000, 0x5000);
        assertEquals(Arrays.asList(0, 0, null, 5, 5), p.keys());
        assertEquals(3, p.mappings());
        assertNull(p.key(2));
        assertEquals("[0, 0, -, 5, 5] in 3 mappings", p.toString());
        assertEquals(Arrays.asList(0, null), PageKeys.of(vmas, 0x11000, 0x2000).keys());
    }

    @Test
    void aProtectionChangeInTheMiddleShowsAsThreeMappings() {
        try (AnonPages three = AnonPages.map(3, MemoryCalls.PROT_READ)) {
            MemoryCalls.mprotect(three.page(1), MemoryCalls.pageSize(), MemoryCalls.PROT_READ | MemoryCalls.PROT_WRITE);
            PageKeys p = PageKeys.of(three.address(), three.size());
            assertEquals(3, p.mappings());
            assertEquals(List.of(0, 0, 0), p.keys());
            three.unmap(1);
            assertEquals(Arrays.asList(0, null, 0), PageKeys.of(three.address(), three.size()).keys());
        }
    }

    @Test
    void rangesBeyondMaxPagesOrOffTheAddressSpaceAreRefused() {
        long page = MemoryCalls.pageSize();
        List<Mapping> none = List.of();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PageKeys.of(none, 0, (PageKeys.MAX_PAGES + 1) * page));
        assertEquals("a page-keys report covers at most 262144 pages, not 262145: ask for the part that matters",
                e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> PageKeys.of(none, 0, Long.MAX_VALUE));
        assertThrows(IllegalArgumentException.class, () -> PageKeys.of(none, 0x1000, -1));
        assertThrows(IllegalArgumentException.class, () -> PageKeys.of(none, -2 * page, 4 * page));
        assertEquals(PageKeys.MAX_PAGES, PageKeys.of(none, 0, PageKeys.MAX_PAGES * page).pages());
    }
}
