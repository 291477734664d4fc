package dev.pkrseq.proc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.ValueLayout;

import dev.pkrseq.sys.MemoryCalls;
import org.junit.jupiter.api.Test;

/** /proc/self/mem as a crash-free way to look at memory. */
class SelfMemoryTest {

    @Test
    void readOfAnUnmappedPageIsEmptyInsteadOfACrash() {
        long page = MemoryCalls.pageSize();
        long a = MemoryCalls.mmap(0, 2 * page, MemoryCalls.PROT_READ | MemoryCalls.PROT_WRITE, MemoryCalls.MAP_PRIVATE | MemoryCalls.MAP_ANONYMOUS, -1, 0);
        MemoryCalls.munmap(a + page, page);
        try (SelfMemory mem = SelfMemory.open()) {
            MemoryCalls.memory(a, 8).set(ValueLayout.JAVA_LONG, 0, 0x1122334455667788L);
            assertEquals(0x1122334455667788L, mem.word(a).orElseThrow());
            assertTrue(mem.word(a + page).isEmpty(), "read of an unmapped page returned data");
            assertNull(mem.read(a + page - 4, 8), "a read straddling into an unmapped page returned data");
        } finally {
            MemoryCalls.munmap(a, page);
        }
    }

    @Test
    void readOfANoAccessPageSucceedsBecauseForeignAccessIgnoresProtections() {
        long page = MemoryCalls.pageSize();
        long a = MemoryCalls.mmap(0, page, MemoryCalls.PROT_READ | MemoryCalls.PROT_WRITE, MemoryCalls.MAP_PRIVATE | MemoryCalls.MAP_ANONYMOUS, -1, 0);
        try (SelfMemory mem = SelfMemory.open()) {
            MemoryCalls.memory(a, 8).set(ValueLayout.JAVA_LONG, 0, 42);
            MemoryCalls.mprotect(a, page, MemoryCalls.PROT_NONE);
            assertEquals(42, mem.word(a).orElseThrow());
        } finally {
            MemoryCalls.munmap(a, page);
        }
    }
}
