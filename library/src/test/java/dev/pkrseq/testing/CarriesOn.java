package dev.pkrseq.testing;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pkrseq.pkey.Protection;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import dev.pkrseq.lab.AccessProbe;
import dev.pkrseq.pkey.Pages;
import dev.pkrseq.pkey.Pkeys;
import dev.pkrseq.pkey.ProtectionKey;
import dev.pkrseq.pkey.Rights;
import dev.pkrseq.rseq.Rseq;
import dev.pkrseq.sys.MemoryCalls;
import dev.pkrseq.sys.ThreadCalls;

/**
 * "The JVM carries on": after a refused misuse, the next valid operations work on the same thread. It maps
 * pages, writes and reads them from Java, asks the kernel to read and write them, and, where the hardware
 * allows, tags them with key 0, allocates a key, tags a page, takes its write right away and gives it
 * back, and frees the key; it reads rseq's cpu_id where the thread (or a virtual thread's carrier) is registered.
 */
public final class CarriesOn {
    private static final Protection RW = Protection.READ_WRITE;

    private CarriesOn() {
    }

    /** Runs the valid operations on the calling platform thread; fails the test if one does not work. */
    public static void check() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment pages = Pages.allocate(arena, 2);
            pages.set(JAVA_LONG, 8, 0x5EED_CAFEL);
            assertEquals(0x5EED_CAFEL, pages.get(JAVA_LONG, 8));
            assertTrue(AccessProbe.canRead(pages) && AccessProbe.canWrite(pages), "the kernel can use an untagged page");
            if (Pkeys.supported()) {
                // Without protection keys the kernel takes no pkey_mprotect at all, not even for key 0 (EINVAL).
                ProtectionKey.DEFAULT.protect(pages, RW);
            }
            if (Pkeys.supported() && !Thread.currentThread().isVirtual()) {
                MemorySegment second = Pages.page(pages, 1);
                try (ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE)) {
                    key.protect(second, RW);
                    key.setRights(Rights.NO_WRITE);
                    assertFalse(AccessProbe.canWrite(second), "no-write holds for the kernel's write");
                    assertTrue(AccessProbe.canRead(second));
                    key.setRights(Rights.READ_WRITE);
                    assertTrue(AccessProbe.canWrite(second));
                    ProtectionKey.DEFAULT.protect(second, RW);
                }
            }
        }
        boolean registered = Thread.currentThread().isVirtual() ? Rseq.owner() != dev.pkrseq.rseq.Owner.NONE
                : Features.rseqRegistered();
        if (registered) {
            int cpu = Rseq.cpuId();
            assertTrue(cpu >= 0 && cpu < ThreadCalls.onlineCpus(), "cpu_id " + cpu);
        }
    }
}
