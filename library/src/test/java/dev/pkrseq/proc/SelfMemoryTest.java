package dev.pkrseq.proc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.ValueLayout;

import dev.pkrseq.sys.Sys;
import org.junit.jupiter.api.Test;

/** /proc/self/mem as a crash-free way to look at memory. */
class SelfMemoryTest {

    @Test
    void readOfAnUnmappedPageIsEmptyInsteadOfACrash() {
        long page = Sys.pageSize();
        long a = Sys.mmap(0, 2 * page, Sys.PROT_READ | Sys.PROT_WRITE, Sys.MAP_PRIVATE | Sys.MAP_ANONYMOUS, -1, 0);
        Sys.munmap(a + page, page);
        try (SelfMemory mem = SelfMemory.open()) {
            Sys.memory(a, 8).set(ValueLayout.JAVA_LONG, 0, 0x1122334455667788L);
            assertEquals(0x1122334455667788L, mem.word(a).orElseThrow());
            assertTrue(mem.word(a + page).isEmpty(), "read of an unmapped page returned data");
            assertNull(mem.read(a + page - 4, 8), "a read straddling into an unmapped page returned data");
        } finally {
            Sys.munmap(a, page);
        }
    }

    @Test
    void readOfANoAccessPageSucceedsBecauseForeignAccessIgnoresProtections() {
        long page = Sys.pageSize();
        long a = Sys.mmap(0, page, Sys.PROT_READ | Sys.PROT_WRITE, Sys.MAP_PRIVATE | Sys.MAP_ANONYMOUS, -1, 0);
        try (SelfMemory mem = SelfMemory.open()) {
            Sys.memory(a, 8).set(ValueLayout.JAVA_LONG, 0, 42);
            Sys.mprotect(a, page, Sys.PROT_NONE);
            assertEquals(42, mem.word(a).orElseThrow());
        } finally {
            Sys.munmap(a, page);
        }
    }
}
