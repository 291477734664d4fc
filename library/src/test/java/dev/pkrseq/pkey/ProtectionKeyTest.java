package dev.pkrseq.pkey;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

import dev.pkrseq.lab.AccessProbe;
import dev.pkrseq.lab.PageKeys;
import dev.pkrseq.Errno;
import dev.pkrseq.KeysExhaustedException;
import dev.pkrseq.NativeException;
import dev.pkrseq.sys.MemoryCalls;
import dev.pkrseq.sys.PkeyCalls;
import dev.pkrseq.testing.AnonPages;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Keys, rights and tagging on a machine with protection keys, one observed behaviour per test. */
@Tag("pku")
class ProtectionKeyTest {
    private static final Protection RW = Protection.READ_WRITE;

    @BeforeEach
    void needsPkeys() {
        Features.assumePkeys();
    }

    @Test
    void allocateGivesAKeyFromOneToFifteenWithTheInitialRights() {
        for (Rights r : Rights.values()) {
            try (ProtectionKey key = ProtectionKey.allocate(r)) {
                assertTrue(key.number() >= 1 && key.number() <= 15, key.toString());
                assertEquals(r, key.rights());
                assertTrue(key.isOpen());
            }
        }
    }

    @Test
    void closeSetsTheClosingThreadsRightsBackToNoAccess() {
        ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE);
        int n = key.number();
        key.close();
        assertEquals(PkeyCalls.PKEY_DISABLE_ACCESS, PkeyCalls.pkeyGet(n));
    }

    @Test
    void withRightsRestoresThePreviousRightsOnClose() {
        try (ProtectionKey key = ProtectionKey.allocate(Rights.NO_WRITE)) {
            try (RightsScope s = key.withRights(Rights.NO_ACCESS)) {
                assertEquals(Rights.NO_ACCESS, key.rights());
                assertEquals(Rights.NO_WRITE, s.previous());
            }
            assertEquals(Rights.NO_WRITE, key.rights());
        }
    }

    @Test
    void withRightsRestoresThePreviousRightsWhenTheBlockThrows() {
        try (ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE)) {
            assertThrows(IllegalStateException.class, () -> {
                try (RightsScope _ = key.withRights(Rights.NO_ACCESS)) {
                    throw new IllegalStateException("boom");
                }
            });
            assertEquals(Rights.READ_WRITE, key.rights());
        }
    }

    @Test
    void withRightsRestoresTheExactBitsEvenBothSet() {
        try (ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE)) {
            PkeyCalls.pkeySet(key.number(), PkeyCalls.PKEY_DISABLE_ACCESS | PkeyCalls.PKEY_DISABLE_WRITE);
            try (RightsScope _ = key.withRights(Rights.READ_WRITE)) {
                assertEquals(0, PkeyCalls.pkeyGet(key.number()));
            }
            assertEquals(3, PkeyCalls.pkeyGet(key.number()));
        }
    }

    @Test
    void protectTagsEveryPageOfTheSegment() {
        try (ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE); Arena arena = Arena.ofConfined()) {
            MemorySegment s = Pages.allocate(arena, 4);
            key.protect(s.asSlice(Pages.size(), 2 * Pages.size()), RW);
            int k = key.number();
            assertEquals(List.of(0, k, k, 0), PageKeys.of(s).keys());
            assertEquals(3, PageKeys.of(s).mappings());
            assertEquals(2, key.mappings().stream().mapToLong(v -> v.size() / Pages.size()).sum());
        }
    }

    @Test
    void tagPagesReportsEveryPage() {
        try (ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE); Arena arena = Arena.ofConfined()) {
            MemorySegment s = Pages.allocate(arena, 3);
            PageWalk walk = key.tagPages(s, RW);
            assertTrue(walk.complete());
            assertEquals(3, walk.count(PageWalk.Status.TAGGED));
            assertEquals(s.address() + Pages.size(), walk.pages().get(1).address());
            int k = key.number();
            assertEquals(List.of(k, k, k), PageKeys.of(s).keys());
            assertEquals(1, PageKeys.of(s).mappings(), "adjacent pages with the same key and protection merge again");
        }
    }

    /** A hole needs a munmap pkrseq's own pages never see, so the test maps its own and takes the hazard. */
    @Test
    void protectOverAHoleFailsWithEnomemAndTheWalkReportsIt() {
        // The key is closed last: the pages that carry it are unmapped first.
        try (ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE); AnonPages pages = AnonPages.map(3, RW.bits())) {
            MemorySegment s = MemoryCalls.memory(pages.address(), pages.size());
            pages.unmap(1);
            NativeException e = assertThrows(NativeException.class, () -> key.protect(s, RW, Hazard.MAY_KILL_THIS_JVM));
            assertEquals(Errno.ENOMEM, e.errno());
            assertEquals("pkey_mprotect", e.call());
            PageWalk walk = key.tagPages(s, RW, Hazard.MAY_KILL_THIS_JVM);
            assertEquals(List.of(PageWalk.Status.TAGGED, PageWalk.Status.NOT_MAPPED, PageWalk.Status.TAGGED),
                    walk.pages().stream().map(PageWalk.Page::status).toList());
            assertEquals(Errno.ENOMEM, walk.pages().get(1).errno());
            int k = key.number();
            assertEquals(Arrays.asList(k, null, k), PageKeys.of(s).keys());
        }
    }

    @Test
    void theJavaSideReadsAndWritesATaggedPageWithReadWriteRights() {
        try (ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE); Arena arena = Arena.ofConfined()) {
            MemorySegment s = Pages.allocate(arena, 1);
            key.protect(s, RW);
            s.set(JAVA_LONG, 0, 0x1234);
            assertEquals(0x1234, s.get(JAVA_LONG, 0));
            assertTrue(AccessProbe.canRead(s) && AccessProbe.canWrite(s));
        }
    }

    @Test
    void closedKeyNumberIsHandedOutAgain() {
        ProtectionKey first = ProtectionKey.allocate(Rights.NO_ACCESS);
        int n = first.number();
        first.close();
        try (ProtectionKey second = ProtectionKey.allocate(Rights.NO_ACCESS)) {
            assertEquals(n, second.number(), "pkey_alloc returns the lowest free key");
            assertNotEquals(first, second);
            assertFalse(first.isOpen());
        }
    }

    @Test
    void allocatableNowCountsFreeKeysAndLeavesPkruAsItWas() {
        Pkru before = Pkru.current();
        int free = Pkeys.allocatableNow();
        assertEquals(before, Pkru.current());
        try (ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE)) {
            assertEquals(free - 1, Pkeys.allocatableNow());
            assertEquals(Rights.READ_WRITE, key.rights());
        }
        assertEquals(free, Pkeys.allocatableNow());
    }

    @Test
    void allocateWhenEveryKeyIsTakenGivesKeysExhaustedExceptionAndTryAllocateGivesEmpty() {
        List<ProtectionKey> taken = new java.util.ArrayList<>();
        try {
            for (Optional<ProtectionKey> k = ProtectionKey.tryAllocate(Rights.NO_ACCESS); k.isPresent();
                    k = ProtectionKey.tryAllocate(Rights.NO_ACCESS)) {
                taken.add(k.get());
            }
            assertFalse(taken.isEmpty(), "a fresh test JVM has keys to hand out");
            KeysExhaustedException e = assertThrows(KeysExhaustedException.class,
                    () -> ProtectionKey.allocate(Rights.NO_ACCESS));
            assertEquals(Errno.ENOSPC, e.errno());
            assertEquals("pkey_alloc", e.call());
            assertTrue(e.getMessage().startsWith("pkey_alloc(0, PKEY_DISABLE_ACCESS) failed: ENOSPC"), e.getMessage());
        } finally {
            taken.forEach(ProtectionKey::close);
        }
        assertTrue(ProtectionKey.tryAllocate(Rights.NO_ACCESS).map(k -> {
            k.close();
            return true;
        }).orElse(false), "a key is free again once they are closed");
    }
}
