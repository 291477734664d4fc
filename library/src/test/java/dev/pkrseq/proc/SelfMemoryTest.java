package dev.pkrseq.proc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.ValueLayout;

import dev.pkrseq.sys.MemoryCalls;
import dev.pkrseq.testing.AnonPages;
import org.junit.jupiter.api.Test;

/** /proc/self/mem as a crash-free way to look at memory. */
class SelfMemoryTest {

    @Test
    void readOfAnUnmappedPageIsEmptyInsteadOfACrash() {
        try (AnonPages p = AnonPages.readWrite(2); SelfMemory mem = SelfMemory.open()) {
            long a = p.address();
            p.unmap(1);
            MemoryCalls.memory(a, 8).set(ValueLayout.JAVA_LONG, 0, 0x1122334455667788L);
            assertEquals(0x1122334455667788L, mem.word(a).orElseThrow());
            assertTrue(mem.word(p.page(1)).isEmpty(), "read of an unmapped page returned data");
            assertNull(mem.read(p.page(1) - 4, 8), "a read straddling into an unmapped page returned data");
        }
    }

    @Test
    void readOfANoAccessPageSucceedsBecauseForeignAccessIgnoresProtections() {
        try (AnonPages p = AnonPages.readWrite(1); SelfMemory mem = SelfMemory.open()) {
            MemoryCalls.memory(p.address(), 8).set(ValueLayout.JAVA_LONG, 0, 42);
            MemoryCalls.mprotect(p.address(), p.size(), MemoryCalls.PROT_NONE);
            assertEquals(42, mem.word(p.address()).orElseThrow());
        }
    }
}
