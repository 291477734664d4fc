package dev.pkrseq.lab;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pkrseq.sys.MemoryCalls;
import dev.pkrseq.testing.AnonPages;
import org.junit.jupiter.api.Test;

/**
 * The kernel-side access probe, checked with plain page protections (which the kernel's user copies
 * obey exactly as they obey PKRU); the protection-key cases are in the pkey tests.
 */
class AccessProbeTest {

    @Test
    void kernelReadOfReadablePageSucceedsAndOfNoAccessPageGivesEfault() {
        try (AnonPages p = AnonPages.readWrite(1)) {
            assertTrue(AccessProbe.canRead(p.address(), 4096));
            MemoryCalls.mprotect(p.address(), p.size(), MemoryCalls.PROT_NONE);
            assertFalse(AccessProbe.canRead(p.address(), 4096));
            assertFalse(AccessProbe.canWrite(p.address(), 4096));
        }
    }

    @Test
    void kernelWriteOfReadOnlyPageGivesEfaultWhileReadSucceeds() {
        try (AnonPages p = AnonPages.readWrite(1)) {
            MemoryCalls.mprotect(p.address(), p.size(), MemoryCalls.PROT_READ);
            assertTrue(AccessProbe.canRead(p.address(), 64));
            assertFalse(AccessProbe.canWrite(p.address(), 64));
        }
    }

    @Test
    void writeProbeLeavesTheBytesAsTheyWere() {
        try (AnonPages p = AnonPages.readWrite(1)) {
            var seg = MemoryCalls.memory(p.address(), p.size());
            for (long i = 0; i < p.size() / 8; i++) {
                seg.setAtIndex(JAVA_LONG, i, i * 0x9E3779B97F4A7C15L);
            }
            assertTrue(AccessProbe.canWrite(p.address(), 4096));
            for (long i = 0; i < p.size() / 8; i++) {
                assertEquals(i * 0x9E3779B97F4A7C15L, seg.getAtIndex(JAVA_LONG, i));
            }
        }
    }

    @Test
    void probeLeavesNoPipeBehind() throws Exception {
        try (AnonPages p = AnonPages.map(1, MemoryCalls.PROT_NONE)) {
            long before = openPipes();
            for (int i = 0; i < 100; i++) {
                AccessProbe.canRead(p.address(), 16);
                AccessProbe.canWrite(p.address(), 16);
            }
            assertEquals(before, openPipes());
        }
    }

    static long openPipes() throws java.io.IOException {
        try (var fds = java.nio.file.Files.list(java.nio.file.Path.of("/proc/self/fd"))) {
            return fds.filter(f -> {
                try {
                    return java.nio.file.Files.readSymbolicLink(f).toString().startsWith("pipe:");
                } catch (java.io.IOException e) {
                    return false; // the listing's own descriptor is gone by now
                }
            }).count();
        }
    }

    @Test
    void probeLengthIsBoundedToOnePipeWrite() {
        assertThrows(IllegalArgumentException.class, () -> AccessProbe.canRead(0x1000, 4097));
        assertThrows(IllegalArgumentException.class, () -> AccessProbe.canWrite(0x1000, 0));
    }
}
