package dev.pkrseq.pkey;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import dev.pkrseq.observe.KeyReport;
import dev.pkrseq.observe.TlsRetagProbe;
import dev.pkrseq.sys.Errno;
import dev.pkrseq.sys.NativeException;
import dev.pkrseq.sys.Sys;
import dev.pkrseq.testing.CarriesOn;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * The protection-key rows of the misuse table (README.md), one test per row: the
 * exception type, a message that names the problem, and the JVM carries on ({@link CarriesOn}). Rows
 * whose guard fires before any native call run on every machine; the rest need protection keys.
 */
class PkeyMisuseTest {
    private static final int RW = Sys.PROT_READ | Sys.PROT_WRITE;

    /** Asserts the type and that the message contains every phrase, then that the JVM carries on. */
    static <T extends Throwable> T refused(Class<T> type, Executable misuse, String... phrases) {
        T e = assertThrows(type, misuse);
        assertEquals(type, e.getClass(), "exactly this type");
        for (String p : phrases) {
            assertTrue(e.getMessage().contains(p), "message lacks '" + p + "': " + e.getMessage());
        }
        CarriesOn.check();
        return e;
    }

    @Test
    void usingAClosedKeyGivesKeyClosedException() {
        ProtectionKey closed = Features.pkeysWork() ? closedKey() : new ProtectionKey(9, true);
        int n = closed.number();
        KeyClosedException e = refused(KeyClosedException.class, () -> closed.setRights(Rights.NO_ACCESS),
                "cannot set its rights", "protection key " + n + " is closed");
        assertEquals(n, e.key());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment page = Pages.allocate(arena, 1);
            refused(KeyClosedException.class, () -> closed.tagPages(page, RW), "cannot tag memory", "is closed");
        }
    }

    @Test
    void closingAKeyTwiceIsIdempotent() {
        if (!Features.pkeysWork()) {
            // Without keys none can be opened; a closed key's close() must still be a no-op, no native call.
            ProtectionKey closed = new ProtectionKey(9, true);
            closed.close();
            closed.close();
            assertFalse(closed.isOpen());
            CarriesOn.check();
            return;
        }
        ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE);
        int allocatable = Pkeys.allocatableNow();
        key.close();
        key.close();
        assertFalse(key.isOpen());
        assertEquals(allocatable + 1, Pkeys.allocatableNow(), "freed exactly once");
        CarriesOn.check();
    }

    @Test
    void denyingKeyZeroGivesKeyZeroException() {
        refused(KeyZeroException.class, () -> ProtectionKey.DEFAULT.setRights(Rights.NO_ACCESS),
                "refusing to set key 0 to no-access", "would kill the JVM");
        refused(KeyZeroException.class, () -> ProtectionKey.DEFAULT.withRights(Rights.NO_WRITE),
                "refusing to set key 0 to no-write");
        refused(KeyZeroException.class, ProtectionKey.DEFAULT::close, "refusing to free key 0");
    }

    @Test
    void keyNumberOutOfRangeGivesInvalidKeyException() {
        refused(InvalidKeyException.class, () -> Pkeys.mappingsCarrying(16), "protection key 16 is out of range",
                "keys 0 to 15");
        refused(InvalidKeyException.class, () -> Pkru.INITIAL.rights(-1), "protection key -1 is out of range");
        refused(InvalidKeyException.class, () -> KeyReport.of(99), "protection key 99 is out of range");
    }

    @Test
    void keyNumberNotAllocatedIsReportedSoAndRawUseGivesEinval() {
        if (!Features.pkeysWork()) {
            KeyReport r = KeyReport.of(5);
            assertFalse(r.allocated());
            assertEquals(List.of(0), r.allocatedKeys());
            CarriesOn.check();
            return;
        }
        List<Integer> allocated = Pkeys.allocatedNow();
        int n = 15;
        while (allocated.contains(n)) {
            n--;
        }
        int free = n;
        assertFalse(KeyReport.of(free).allocated());
        NativeException e = refused(NativeException.class, () -> Sys.pkeyFree(free), "pkey_free(" + free + ")", "EINVAL");
        assertEquals(Errno.EINVAL, e.errno());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment page = Pages.allocate(arena, 1);
            NativeException m = refused(NativeException.class, () -> Sys.pkeyMprotect(page.address(), Pages.size(), RW, free),
                    "key " + free, "EINVAL");
            assertEquals(Errno.EINVAL, m.errno());
        }
    }

    @Test
    void invalidRightsBitsGiveInvalidRightsException() {
        refused(InvalidRightsException.class, () -> Rights.ofBits(4), "invalid protection key rights 0x4",
                "PKEY_DISABLE_ACCESS (0x1) and PKEY_DISABLE_WRITE (0x2)");
        refused(InvalidRightsException.class, () -> Rights.ofBits(-1), "invalid protection key rights 0xffffffff");
    }

    @Test
    void taggingAHeapSegmentGivesUntaggableSegmentExceptionHeap() {
        MemorySegment heap = MemorySegment.ofArray(new long[1024]);
        UntaggableSegmentException e = refused(UntaggableSegmentException.class,
                () -> ProtectionKey.DEFAULT.protect(heap, RW), "cannot tag a heap segment", "Pages.allocate");
        assertEquals(UntaggableSegmentException.Reason.HEAP, e.reason());
    }

    @Test
    void taggingAnUnalignedAddressGivesUntaggableSegmentExceptionUnaligned() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment two = Pages.allocate(arena, 2);
            UntaggableSegmentException e = refused(UntaggableSegmentException.class,
                    () -> ProtectionKey.DEFAULT.tagPages(two.asSlice(8, Pages.size()), RW),
                    String.format("0x%x", two.address() + 8), "does not start on a page boundary");
            assertEquals(UntaggableSegmentException.Reason.UNALIGNED, e.reason());
        }
    }

    @Test
    void taggingALengthThatIsNotWholePagesGivesUntaggableSegmentExceptionPartialPages() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment two = Pages.allocate(arena, 2);
            UntaggableSegmentException e = refused(UntaggableSegmentException.class,
                    () -> ProtectionKey.DEFAULT.protect(two.asSlice(0, Pages.size() + 1), RW),
                    "a segment of " + (Pages.size() + 1) + " bytes", "not a whole number of");
            assertEquals(UntaggableSegmentException.Reason.PARTIAL_PAGES, e.reason());
        }
    }

    @Test
    void taggingASegmentFromAClosedArenaGivesUntaggableSegmentExceptionClosed() {
        Arena arena = Arena.ofShared();
        MemorySegment page = Pages.allocate(arena, 1);
        arena.close();
        UntaggableSegmentException e = refused(UntaggableSegmentException.class,
                () -> ProtectionKey.DEFAULT.protect(page, RW), "arena is closed", "unmapped or already reused");
        assertEquals(UntaggableSegmentException.Reason.CLOSED, e.reason());
    }

    @Test
    void changingPkruFromAVirtualThreadGivesVirtualThreadException() throws Exception {
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        AtomicReference<Throwable> after = new AtomicReference<>();
        Thread vt = Thread.ofVirtual().name("misuse-vt").start(() -> {
            try {
                ProtectionKey.DEFAULT.setRights(Rights.READ_WRITE);
            } catch (Throwable t) {
                thrown.set(t);
            }
            try {
                CarriesOn.check();
            } catch (Throwable t) {
                after.set(t);
            }
        });
        vt.join();
        assertEquals(VirtualThreadException.class, thrown.get().getClass());
        assertTrue(thrown.get().getMessage().contains("cannot change PKRU from virtual thread"), thrown.get().getMessage());
        assertTrue(thrown.get().getMessage().contains("use a platform thread"), thrown.get().getMessage());
        assertEquals(null, after.get(), "the virtual thread carries on");
        CarriesOn.check();
    }

    @Test
    void denyingAKeyThatTagsThisThreadsStackGivesThreadMemoryTaggedException() throws Exception {
        Features.assumePkeys();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread t = Thread.ofPlatform().name("misuse-stack").stackSize(1 << 20).start(() -> {
            try {
                MemorySegment deep = Sys.memory(Sys.threadStack().low() + 32 * Pages.size(), Pages.size());
                try (ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE)) {
                    key.protect(deep, RW, Hazard.MAY_KILL_THIS_JVM);
                    try {
                        ThreadMemoryTaggedException e = refused(ThreadMemoryTaggedException.class,
                                () -> key.setRights(Rights.NO_ACCESS), "refusing to set key " + key.number() + " to no-access",
                                "part of this thread's stack", "which the JVM touches on every call");
                        assertEquals(key.number(), e.key());
                        assertEquals(Rights.READ_WRITE, key.rights(), "nothing was changed");
                    } finally {
                        ProtectionKey.DEFAULT.protect(deep, RW, Hazard.MAY_KILL_THIS_JVM);
                    }
                }
            } catch (Throwable e) {
                failure.set(e);
            }
        });
        t.join();
        if (failure.get() != null) {
            throw new AssertionError(failure.get());
        }
    }

    @Test
    void denyingAKeyThatTagsThisThreadsTlsGivesThreadMemoryTaggedException() {
        Features.assumePkeys();
        // Tagging a thread's TLS can kill its JVM (see TlsRetag), so a child JVM tags its own and asks.
        TlsRetagProbe.Report r = TlsRetagProbe.retag(Duration.ofSeconds(120));
        assertTrue(r.denyRefused(), r.denyMessage());
        assertTrue(r.denyMessage().contains("part of this thread's TCB and static TLS"), r.denyMessage());
        assertTrue(r.denyMessage().contains("the JVM would die on its next TLS access"), r.denyMessage());
        assertTrue(r.scopedDenyRefused());
        assertEquals("read-write", r.rightsAfterDeny(), "nothing was changed");
        assertTrue(r.smapsUnchanged(), "the child carried on, restored its pages: " + r.smapsDifference());
        assertEquals("none", r.left());
        CarriesOn.check();
    }

    @Test
    void freeingAKeyThatPagesStillCarryGivesKeyInUseException() {
        Features.assumePkeys();
        ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment pages = Pages.allocate(arena, 3);
            key.protect(pages, RW);
            KeyInUseException e = refused(KeyInUseException.class, key::close,
                    "refusing to free protection key " + key.number(), "3 pages still carry it",
                    String.format("0x%x-0x%x", pages.address(), pages.address() + 3 * Pages.size()));
            assertEquals(key.number(), e.key());
            assertTrue(key.isOpen(), "the key stays allocated");
        }
        key.close();
        assertFalse(key.isOpen());
    }

    @Test
    void usingPkruWithoutProtectionKeysGivesPkeysUnavailableException() {
        assumeFalse(Features.pkeysWork(), "protection keys work here");
        PkeysUnavailableException e = assertThrows(PkeysUnavailableException.class,
                () -> ProtectionKey.allocate(Rights.NO_ACCESS));
        assertTrue(e.getMessage().startsWith("protection keys are not available on this machine: "), e.getMessage());
        assertThrows(PkeysUnavailableException.class, Pkru::current);
        CarriesOn.check();
    }

    private static ProtectionKey closedKey() {
        ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE);
        key.close();
        return key;
    }
}
