package dev.pkrseq.pkey;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pkrseq.InvalidKeyException;
import dev.pkrseq.InvalidRightsException;
import dev.pkrseq.KeyClosedException;
import dev.pkrseq.KeyInUseException;
import dev.pkrseq.KeyZeroException;
import dev.pkrseq.ThreadMemoryTaggedException;
import dev.pkrseq.UnavailableException;
import dev.pkrseq.UntaggableSegmentException;
import dev.pkrseq.VirtualThreadException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicReference;

import dev.pkrseq.lab.PageKeys;
import dev.pkrseq.proc.Smaps;
import dev.pkrseq.sys.ThreadCalls;
import dev.pkrseq.testing.Features;
import dev.pkrseq.testing.Threads;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * Every guard: the exception's type and message, nothing changed, and the JVM carries on. The guards
 * that need no hardware run everywhere, because they are checked before any native call.
 */
@Tag("pku")
class PkeyGuardsTest {
    private static final Protection RW = Protection.READ_WRITE;

    static <T extends Throwable> T refused(Class<T> type, String message, Executable call) {
        T e = assertThrows(type, call);
        assertEquals(message, e.getMessage());
        // The JVM carries on: this thread still calls into native code and back.
        assertTrue(ThreadCalls.gettid() > 0);
        return e;
    }

    // ---- key 0 -----------------------------------------------------------------------------------

    @Test
    void denyingKeyZeroAccessIsRefused() {
        refused(KeyZeroException.class, "refusing to set key 0 to no-access: key 0 tags the JVM's heap, stacks and code,"
                + " so denying it would kill the JVM", () -> ProtectionKey.DEFAULT.setRights(Rights.NO_ACCESS));
    }

    @Test
    void denyingKeyZeroWriteIsRefused() {
        refused(KeyZeroException.class, "refusing to set key 0 to no-write: key 0 tags the JVM's heap, stacks and code,"
                + " so denying it would kill the JVM", () -> ProtectionKey.DEFAULT.setRights(Rights.NO_WRITE));
    }

    @Test
    void scopedDenialOfKeyZeroIsRefused() {
        refused(KeyZeroException.class, "refusing to set key 0 to no-access: key 0 tags the JVM's heap, stacks and code,"
                + " so denying it would kill the JVM", () -> ProtectionKey.DEFAULT.withRights(Rights.NO_ACCESS));
    }

    @Test
    void restoringAPkruThatDeniesKeyZeroIsRefused() {
        refused(KeyZeroException.class, "refusing to set key 0 to no-access: key 0 tags the JVM's heap, stacks and code,"
                + " so denying it would kill the JVM", () -> new Pkru(0x55555555).restore());
    }

    @Test
    void freeingKeyZeroIsRefused() {
        refused(KeyZeroException.class, "refusing to free key 0: it is the default key that every untagged page carries,"
                + " and it was never allocated", ProtectionKey.DEFAULT::close);
        assertTrue(ProtectionKey.DEFAULT.isOpen());
    }

    @Test
    void keyZeroRightsStayReadWriteAfterRefusals() {
        Features.assumePkeys();
        assertThrows(KeyZeroException.class, () -> ProtectionKey.DEFAULT.setRights(Rights.NO_ACCESS));
        assertEquals(Rights.READ_WRITE, ProtectionKey.DEFAULT.rights());
        assertEquals(0, Pkru.current().bits(0));
    }

    // ---- closed key ------------------------------------------------------------------------------

    @Test
    void closedKeyRefusesEveryUse() {
        ProtectionKey closed = new ProtectionKey(7, true);
        String tail = ": protection key 7 is closed (freed), and its number may already belong to a new owner";
        refused(KeyClosedException.class, "cannot set its rights" + tail, () -> closed.setRights(Rights.READ_WRITE));
        refused(KeyClosedException.class, "cannot set its rights" + tail, () -> closed.withRights(Rights.NO_ACCESS));
        refused(KeyClosedException.class, "cannot read its rights" + tail, closed::rights);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment page = Pages.allocate(arena, 1);
            refused(KeyClosedException.class, "cannot tag memory" + tail, () -> closed.protect(page, RW));
            refused(KeyClosedException.class, "cannot tag memory" + tail, () -> closed.tagPages(page, RW));
        }
        closed.close(); // closing again is allowed and does nothing
        assertFalse(closed.isOpen());
        assertEquals(7, assertThrows(KeyClosedException.class, closed::rights).key());
    }

    @Test
    void allocatedKeyRefusesUseAfterCloseAndClosesTwice() {
        Features.assumePkeys();
        ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE);
        int n = key.number();
        key.close();
        key.close();
        refused(KeyClosedException.class, "cannot set its rights: protection key " + n + " is closed (freed), and its"
                + " number may already belong to a new owner", () -> key.setRights(Rights.NO_ACCESS));
        assertEquals("ProtectionKey[" + n + ", closed]", key.toString());
    }

    // ---- segments --------------------------------------------------------------------------------

    @Test
    void taggingAHeapSegmentIsRefused() {
        MemorySegment heap = MemorySegment.ofArray(new byte[8192]);
        UntaggableSegmentException e = refused(UntaggableSegmentException.class, "cannot tag a heap segment: its pages"
                + " hold Java objects that the JVM touches from every thread; use native memory, for example"
                + " Pages.allocate(arena, n)", () -> ProtectionKey.DEFAULT.protect(heap, RW));
        assertEquals(UntaggableSegmentException.Reason.HEAP, e.reason());
        assertThrows(UntaggableSegmentException.class, () -> ProtectionKey.DEFAULT.tagPages(heap, RW));
    }

    @Test
    void taggingAnUnalignedSegmentIsRefused() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment two = Pages.allocate(arena, 2);
            MemorySegment unaligned = two.asSlice(64, 4096);
            UntaggableSegmentException e = refused(UntaggableSegmentException.class, String.format("cannot tag a segment"
                    + " at 0x%x: it does not start on a page boundary (page size 4096), so its first page holds memory"
                    + " outside it", two.address() + 64), () -> ProtectionKey.DEFAULT.protect(unaligned, RW));
            assertEquals(UntaggableSegmentException.Reason.UNALIGNED, e.reason());
            assertEquals(1, PageKeys.of(two).mappings(), "nothing was changed, so nothing was split");
        }
    }

    @Test
    void taggingPartOfAPageIsRefused() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment two = Pages.allocate(arena, 2);
            UntaggableSegmentException e = refused(UntaggableSegmentException.class, "cannot tag a segment of 5000 bytes:"
                    + " it is not a whole number of 4096-byte pages, so its last page holds memory outside it",
                    () -> ProtectionKey.DEFAULT.tagPages(two.asSlice(0, 5000), RW));
            assertEquals(UntaggableSegmentException.Reason.PARTIAL_PAGES, e.reason());
            refused(UntaggableSegmentException.class, "cannot tag an empty segment: it covers no page",
                    () -> ProtectionKey.DEFAULT.protect(two.asSlice(0, 0), RW));
        }
    }

    @Test
    void taggingASegmentOfAClosedArenaIsRefused() {
        Arena arena = Arena.ofConfined();
        MemorySegment page = Pages.allocate(arena, 1);
        arena.close();
        UntaggableSegmentException e = refused(UntaggableSegmentException.class, "cannot tag a segment whose arena is"
                + " closed: its pages may be unmapped or already reused", () -> ProtectionKey.DEFAULT.protect(page, RW));
        assertEquals(UntaggableSegmentException.Reason.CLOSED, e.reason());
    }

    // ---- virtual threads -------------------------------------------------------------------------

    @Test
    void changingPkruFromAVirtualThreadIsRefused() throws Exception {
        AtomicReference<Throwable> alloc = new AtomicReference<>();
        AtomicReference<Throwable> set = new AtomicReference<>();
        AtomicReference<Throwable> read = new AtomicReference<>();
        Thread vt = Thread.ofVirtual().name("vt-guard").start(() -> {
            alloc.set(catching(() -> ProtectionKey.allocate(Rights.NO_ACCESS)));
            set.set(catching(() -> ProtectionKey.DEFAULT.setRights(Rights.READ_WRITE)));
            read.set(catching(Pkru::current));
        });
        vt.join();
        String tail = " from virtual thread #" + vt.threadId() + " 'vt-guard': PKRU belongs to the carrier thread, and a"
                + " virtual thread can move between carriers; use a platform thread";
        assertEquals(VirtualThreadException.class, alloc.get().getClass());
        assertEquals("cannot allocate a protection key" + tail, alloc.get().getMessage());
        assertEquals(VirtualThreadException.class, set.get().getClass());
        assertEquals("cannot change PKRU" + tail, set.get().getMessage());
        assertEquals("cannot read PKRU" + tail, read.get().getMessage());
    }

    private static Throwable catching(Executable e) {
        try {
            e.execute();
            return null;
        } catch (Throwable t) {
            return t;
        }
    }

    // ---- numbers and bits ------------------------------------------------------------------------

    @Test
    void keyNumberOutsideZeroToFifteenIsRefused() {
        refused(InvalidKeyException.class, "protection key 16 is out of range: x86 has keys 0 to 15",
                () -> Pkru.INITIAL.rights(16));
        refused(InvalidKeyException.class, "protection key -1 is out of range: x86 has keys 0 to 15",
                () -> Pkeys.mappingsCarrying(-1));
    }

    @Test
    void rightsBitsOtherThanAccessAndWriteDisableAreRefused() {
        refused(InvalidRightsException.class, "invalid protection key rights 0x4: only PKEY_DISABLE_ACCESS (0x1) and"
                + " PKEY_DISABLE_WRITE (0x2) exist", () -> Rights.ofBits(4));
    }

    // ---- without protection keys -----------------------------------------------------------------

    @Test
    void withoutProtectionKeysEveryPkruUseSaysSoInWords() {
        org.junit.jupiter.api.Assumptions.assumeFalse(Features.pkeysWork(), "protection keys work here");
        UnavailableException e = assertThrows(UnavailableException.class,
                () -> ProtectionKey.allocate(Rights.READ_WRITE));
        assertTrue(e.getMessage().startsWith("protection keys are not available on this machine: "), e.getMessage());
        assertThrows(UnavailableException.class, Pkru::current);
        assertThrows(UnavailableException.class, () -> ProtectionKey.DEFAULT.setRights(Rights.READ_WRITE));
        assertThrows(UnavailableException.class, ProtectionKey.DEFAULT::rights);
        assertEquals(0, Pkeys.allocatableNow());
        assertFalse(Pkeys.supported());
    }

    // ---- guards that need protection keys ---------------------------------------------------------

    @Test
    void freeingAKeyThatPagesCarryIsRefusedWithThePages() {
        Features.assumePkeys();
        ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE);
        int n = key.number();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment two = Pages.allocate(arena, 2);
            key.protect(two, RW);
            KeyInUseException e = refused(KeyInUseException.class, String.format("refusing to free protection key %d:"
                    + " 2 pages still carry it, and the next pkey_alloc would hand them to a new owner: 0x%x-0x%x rw-p"
                    + " (2 pages). Close the arena that maps them first (declare the key before the arena in"
                    + " try-with-resources), or retag them with ProtectionKey.DEFAULT.protect(segment, prot)", n,
                    two.address(), two.address() + 8192), key::close);
            assertEquals(n, e.key());
            assertEquals(1, e.mappings().size());
            assertTrue(key.isOpen(), "the refused key stays allocated");
            assertEquals(Rights.READ_WRITE, key.rights());
            assertEquals(java.util.List.of(n, n), PageKeys.of(two).keys());
        }
        key.close(); // the arena unmapped the pages: now it goes through
        assertFalse(key.isOpen());
        assertTrue(Pkeys.mappingsCarrying(n).isEmpty());
    }

    @Test
    void retaggingToKeyZeroLetsTheKeyBeFreed() {
        Features.assumePkeys();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment page = Pages.allocate(arena, 1);
            ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE);
            key.protect(page, RW);
            assertThrows(KeyInUseException.class, key::close);
            ProtectionKey.DEFAULT.protect(page, RW);
            key.close();
            assertEquals(0, PageKeys.of(page).key(0));
        }
    }

    @Test
    void denyingAKeyThatTagsThisThreadsStackIsRefused() throws Exception {
        Features.assumePkeys();
        AtomicReference<String> message = new AtomicReference<>();
        PkeyMisuseTest.withKeyOnOwnStack("stack-guard", key -> {
            ThreadMemoryTaggedException e = assertThrows(ThreadMemoryTaggedException.class,
                    () -> key.setRights(Rights.NO_ACCESS));
            message.set(e.getMessage());
            assertThrows(ThreadMemoryTaggedException.class, () -> key.withRights(Rights.NO_WRITE));
            assertEquals(Rights.READ_WRITE, key.rights(), "nothing was changed");
        });
        assertTrue(message.get().matches("refusing to set key \\d+ to no-access on thread 'stack-guard' \\(tid \\d+\\):"
                + " the key tags 0x[0-9a-f]+-0x[0-9a-f]+, part of this thread's stack \\[0x[0-9a-f]+-0x[0-9a-f]+\\),"
                + " which the JVM touches on every call"), message.get());
        assertTrue(Smaps.self().stream().noneMatch(v -> v.key() != 0));
    }

    @Test
    void denyingAKeyThatTagsAnotherThreadsStackIsAllowedOnThisThread() {
        Features.assumePkeys();
        try (Arena arena = Arena.ofConfined(); ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE)) {
            // Tag ordinary pages: the stack guard must not refuse what does not touch this thread's stack.
            MemorySegment page = Pages.allocate(arena, 1);
            key.protect(page, RW);
            try (RightsScope _ = key.withRights(Rights.NO_ACCESS)) {
                assertEquals(Rights.NO_ACCESS, key.rights());
            }
            ProtectionKey.DEFAULT.protect(page, RW);
            page.set(JAVA_BYTE, 0, (byte) 1);
        }
    }

    @Test
    void closingARightsScopeOnAnotherThreadIsRefused() throws Exception {
        Features.assumePkeys();
        try (ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE)) {
            RightsScope scope = key.withRights(Rights.NO_WRITE);
            Throwable t = Threads.thrownOn(Thread.ofPlatform().name("other"), scope::close);
            assertEquals(IllegalStateException.class, t.getClass());
            assertEquals("a rights scope for key " + key.number() + " must be closed on the thread that opened it ('"
                    + Thread.currentThread().getName() + "'), not on 'other': rights are per thread", t.getMessage());
            assertEquals(Rights.NO_WRITE, key.rights());
            scope.close();
            assertEquals(Rights.READ_WRITE, key.rights());
        }
    }
}
