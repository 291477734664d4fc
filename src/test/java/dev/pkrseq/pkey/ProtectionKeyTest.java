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

import dev.pkrseq.observe.AccessProbe;
import dev.pkrseq.observe.PageKeys;
import dev.pkrseq.sys.Errno;
import dev.pkrseq.sys.NativeException;
import dev.pkrseq.sys.Sys;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Keys, rights and tagging on a machine with protection keys, one observed behaviour per test. */
@Tag("pku")
class ProtectionKeyTest {
    private static final int RW = Sys.PROT_READ | Sys.PROT_WRITE;

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
        assertEquals(Sys.PKEY_DISABLE_ACCESS, Sys.pkeyGet(n));
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
            Sys.pkeySet(key.number(), Sys.PKEY_DISABLE_ACCESS | Sys.PKEY_DISABLE_WRITE);
            try (RightsScope _ = key.withRights(Rights.READ_WRITE)) {
                assertEquals(0, Sys.pkeyGet(key.number()));
            }
            assertEquals(3, Sys.pkeyGet(key.number()));
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
        long page = Pages.size();
        long base = Sys.mmap(0, 3 * page, RW, Sys.MAP_PRIVATE | Sys.MAP_ANONYMOUS, -1, 0);
        MemorySegment s = Sys.memory(base, 3 * page);
        Sys.munmap(base + page, page);
        ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE);
        try {
            NativeException e = assertThrows(NativeException.class, () -> key.protect(s, RW, Hazard.MAY_KILL_THIS_JVM));
            assertEquals(Errno.ENOMEM, e.errno());
            assertEquals("pkey_mprotect", e.call());
            PageWalk walk = key.tagPages(s, RW, Hazard.MAY_KILL_THIS_JVM);
            assertEquals(List.of(PageWalk.Status.TAGGED, PageWalk.Status.NOT_MAPPED, PageWalk.Status.TAGGED),
                    walk.pages().stream().map(PageWalk.Page::status).toList());
            assertEquals(Errno.ENOMEM, walk.pages().get(1).errno());
            int k = key.number();
            assertEquals(Arrays.asList(k, null, k), PageKeys.of(s).keys());
        } finally {
            Sys.munmap(base, page);
            Sys.munmap(base + 2 * page, page);
            key.close();
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
}
