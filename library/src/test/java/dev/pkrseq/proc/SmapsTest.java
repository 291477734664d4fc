package dev.pkrseq.proc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pkrseq.pkey.Protection;
import dev.pkrseq.Mapping;
import java.io.StringReader;
import java.util.List;

import dev.pkrseq.sys.MemoryCalls;
import dev.pkrseq.testing.AnonPages;
import org.junit.jupiter.api.Test;

/** Reading mappings and their protection keys from smaps. */
class SmapsTest {

    @Test
    void parsesHeaderFieldsAndProtectionKey() throws Exception {
        String text = """
                7f3a1c000000-7f3a1c001000 rw-p 00000000 00:00 0
                Size:                  4 kB
                ProtectionKey:         3
                VmFlags: rd wr mr mw me ac
                7f3a1c001000-7f3a1c003000 r-xp 00001000 fd:01 1234                       /usr/lib/x86_64-linux-gnu/libc.so.6
                Size:                  8 kB
                ProtectionKey:         0
                7ffd0000-7ffd1000 rw-p 00000000 00:00 0                                  [stack]
                Size:                  4 kB
                """;
        List<Mapping> v = Smaps.parse(new StringReader(text));
        assertEquals(3, v.size());
        assertEquals(0x7f3a1c000000L, v.get(0).start());
        assertEquals(4096, v.get(0).size());
        assertEquals("", v.get(0).path());
        assertEquals(3, v.get(0).protectionKey());
        assertEquals("/usr/lib/x86_64-linux-gnu/libc.so.6", v.get(1).path());
        assertEquals(0x1000, v.get(1).offset());
        assertEquals(1234, v.get(1).inode());
        assertEquals("[stack]", v.get(2).path());
        assertNull(v.get(2).protectionKey(), "no ProtectionKey line: the kernel does not report keys");
        assertEquals(0, v.get(2).key());
        assertEquals(Protection.READ_WRITE, v.get(0).protection(), "Mapping.protection() reads the permission letters");
        assertEquals(MemoryCalls.PROT_READ | MemoryCalls.PROT_WRITE, v.get(0).protection().bits(), "bits() are the ABI values");
        assertEquals(MemoryCalls.PROT_READ | MemoryCalls.PROT_EXEC, v.get(1).protection().bits());
        assertEquals(Protection.READ_EXECUTE, v.get(1).protection());
        assertEquals("[anon]", v.get(0).name());
        assertEquals("libc.so.6", v.get(1).name());
        assertEquals("[stack]", v.get(2).name());
    }

    @Test
    void selfListsAFreshMappingAsItsOwnArea() {
        try (AnonPages three = AnonPages.map(3, MemoryCalls.PROT_READ)) {
            long middle = three.page(1);
            MemoryCalls.mprotect(middle, MemoryCalls.pageSize(), MemoryCalls.PROT_READ | MemoryCalls.PROT_WRITE);
            List<Mapping> vmas = Smaps.overlapping(Smaps.self(), three.address(), three.address() + three.size());
            assertEquals(3, vmas.size(), "a protection change in the middle splits the mapping: " + vmas);
            assertEquals("rw-p", vmas.get(1).perms());
            assertTrue(Smaps.containing(Smaps.self(), middle).orElseThrow().contains(middle));
        }
    }
}
