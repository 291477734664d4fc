package dev.pkrseq.lab;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pkrseq.sys.MemoryCalls;
import org.junit.jupiter.api.Test;

/**
 * The kernel-side access probe, checked with plain page protections (which the kernel's user copies
 * obey exactly as they obey PKRU); the protection-key cases are in the pkey tests.
 */
class AccessProbeTest {

    @Test
    void kernelReadOfReadablePageSucceedsAndOfNoAccessPageGivesEfault() {
        long page = MemoryCalls.pageSize();
        long a = MemoryCalls.mmap(0, page, MemoryCalls.PROT_READ | MemoryCalls.PROT_WRITE, MemoryCalls.MAP_PRIVATE | MemoryCalls.MAP_ANONYMOUS, -1, 0);
        try {
            assertTrue(AccessProbe.canRead(a, 4096));
            MemoryCalls.mprotect(a, page, MemoryCalls.PROT_NONE);
            assertFalse(AccessProbe.canRead(a, 4096));
            assertFalse(AccessProbe.canWrite(a, 4096));
        } finally {
            MemoryCalls.munmap(a, page);
        }
    }

    @Test
    void kernelWriteOfReadOnlyPageGivesEfaultWhileReadSucceeds() {
        long page = MemoryCalls.pageSize();
        long a = MemoryCalls.mmap(0, page, MemoryCalls.PROT_READ | MemoryCalls.PROT_WRITE, MemoryCalls.MAP_PRIVATE | MemoryCalls.MAP_ANONYMOUS, -1, 0);
        try {
            MemoryCalls.mprotect(a, page, MemoryCalls.PROT_READ);
            assertTrue(AccessProbe.canRead(a, 64));
            assertFalse(AccessProbe.canWrite(a, 64));
        } finally {
            MemoryCalls.munmap(a, page);
        }
    }

    @Test
    void writeProbeLeavesTheBytesAsTheyWere() {
        long page = MemoryCalls.pageSize();
        long a = MemoryCalls.mmap(0, page, MemoryCalls.PROT_READ | MemoryCalls.PROT_WRITE, MemoryCalls.MAP_PRIVATE | MemoryCalls.MAP_ANONYMOUS, -1, 0);
        try {
            var seg = MemoryCalls.memory(a, page);
            for (long i = 0; i < page / 8; i++) {
                seg.setAtIndex(JAVA_LONG, i, i * 0x9E3779B97F4A7C15L);
            }
            assertTrue(AccessProbe.canWrite(a, 4096));
            for (long i = 0; i < page / 8; i++) {
                assertEquals(i * 0x9E3779B97F4A7C15L, seg.getAtIndex(JAVA_LONG, i));
            }
        } finally {
            MemoryCalls.munmap(a, page);
        }
    }

    @Test
    void probeLeavesNoPipeBehind() throws Exception {
        long page = MemoryCalls.pageSize();
        long a = MemoryCalls.mmap(0, page, MemoryCalls.PROT_NONE, MemoryCalls.MAP_PRIVATE | MemoryCalls.MAP_ANONYMOUS, -1, 0);
        try {
            long before = openPipes();
            for (int i = 0; i < 100; i++) {
                AccessProbe.canRead(a, 16);
                AccessProbe.canWrite(a, 16);
            }
            assertEquals(before, openPipes());
        } finally {
            MemoryCalls.munmap(a, page);
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
