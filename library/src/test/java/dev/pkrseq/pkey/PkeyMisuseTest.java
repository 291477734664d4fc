package dev.pkrseq.pkey;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

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
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import dev.pkrseq.lab.pkey.KeyReport;
import dev.pkrseq.lab.tls.TlsRetagProbe;
import dev.pkrseq.Errno;
import dev.pkrseq.NativeException;
import dev.pkrseq.sys.MemoryCalls;
import dev.pkrseq.sys.PkeyCalls;
import dev.pkrseq.sys.ThreadCalls;
import dev.pkrseq.testing.CarriesOn;
import dev.pkrseq.testing.Features;
import dev.pkrseq.testing.Threads;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * The protection-key rows of the misuse table (README.md), one test per row: the
 * exception type, a message that names the problem, and the JVM carries on ({@link CarriesOn}). Rows
 * whose guard fires before any native call run on every machine; the rest need protection keys.
 */
@Tag("pku")
class PkeyMisuseTest {
    private static final Protection RW = Protection.READ_WRITE;

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
        NativeException e = refused(NativeException.class, () -> PkeyCalls.pkeyFree(free), "pkey_free(" + free + ")", "EINVAL");
        assertEquals(Errno.EINVAL, e.errno());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment page = Pages.allocate(arena, 1);
            NativeException m = refused(NativeException.class, () -> PkeyCalls.pkeyMprotect(page.address(), Pages.size(), RW.bits(), free),
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
        withKeyOnOwnStack("misuse-stack", key -> {
            ThreadMemoryTaggedException e = refused(ThreadMemoryTaggedException.class,
                    () -> key.setRights(Rights.NO_ACCESS), "refusing to set key " + key.number() + " to no-access",
                    "part of this thread's stack", "which the JVM touches on every call");
            assertEquals(key.number(), e.key());
            assertEquals(Rights.READ_WRITE, key.rights(), "nothing was changed");
        });
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
        UnavailableException e = assertThrows(UnavailableException.class,
                () -> ProtectionKey.allocate(Rights.NO_ACCESS));
        assertTrue(e.getMessage().startsWith("protection keys are not available on this machine: "), e.getMessage());
        assertThrows(UnavailableException.class, Pkru::current);
        CarriesOn.check();
    }

    // ---- own what you tag: memory pkrseq did not map ----------------------------------------------

    private static UntaggableSegmentException notOwned(MemorySegment s, UntaggableSegmentException.Reason reason,
            String... phrases) {
        List<String> all = new java.util.ArrayList<>(List.of(String.format("cannot tag 0x%x-0x%x: it is not memory pkrseq"
                + " mapped but ", s.address(), s.address() + s.byteSize()), "pkrseq tags only pages it mapped itself: use"
                + " Pages.allocate(arena, n), or pass Hazard.MAY_KILL_THIS_JVM in a JVM you can afford to lose"));
        all.addAll(List.of(phrases));
        UntaggableSegmentException e = refused(UntaggableSegmentException.class, () -> ProtectionKey.DEFAULT.protect(s, RW),
                all.toArray(String[]::new));
        assertEquals(reason, e.reason(), e.getMessage());
        assertEquals(reason, assertThrows(UntaggableSegmentException.class, () -> ProtectionKey.DEFAULT.tagPages(s, RW))
                .reason(), "the walk refuses the same way");
        return e;
    }

    @Test
    void taggingArenaAllocatedMemoryGivesUntaggableSegmentExceptionMalloc() {
        // Page-aligned and whole pages, yet malloc's: the arena's close hands the pages back to malloc.
        try (Arena arena = Arena.ofShared()) {
            MemorySegment s = arena.allocate(16 * Pages.size(), Pages.size());
            notOwned(s, UntaggableSegmentException.Reason.MALLOC, "where malloc (and so Arena.allocate) hands out chunks",
                    "a thread whose rights deny the key dies when it touches those pages");
        }
    }

    @Test
    void taggingAFileMappingGivesUntaggableSegmentExceptionFile() throws Exception {
        java.nio.file.Path file = java.nio.file.Files.createTempFile("pkrseq-misuse-", ".bin");
        try (Arena arena = Arena.ofConfined();
                java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file,
                        java.nio.file.StandardOpenOption.READ, java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.allocate((int) (2 * Pages.size())));
            MemorySegment s = ch.map(java.nio.channels.FileChannel.MapMode.READ_WRITE, 0, 2 * Pages.size(), arena);
            notOwned(s, UntaggableSegmentException.Reason.FILE, "a mapping of " + file.toRealPath());
        } finally {
            java.nio.file.Files.deleteIfExists(file);
        }
    }

    @Test
    void taggingThisThreadsStackGivesUntaggableSegmentExceptionThread() throws Exception {
        Threads.runOn(Thread.ofPlatform().name("misuse-own-stack").stackSize(1 << 20), () -> notOwned(deepStackPage(),
                UntaggableSegmentException.Reason.THREAD, "part of this thread's stack [", "which the JVM touches on every call"));
    }

    @Test
    void taggingJvmMemoryFoundByAddressGivesUntaggableSegmentExceptionFileOrAnonymous() throws Exception {
        List<dev.pkrseq.Mapping> vmas = dev.pkrseq.proc.Smaps.self();
        dev.pkrseq.Mapping libjvm = vmas.stream().filter(v -> v.path().endsWith("/libjvm.so") && v.perms().startsWith("rw"))
                .findFirst().orElseThrow();
        notOwned(MemoryCalls.memory(libjvm.start(), Pages.size()), UntaggableSegmentException.Reason.FILE,
                "a mapping of " + libjvm.path());
        // The Java heap where the JVM says it is: the largest anonymous mapping is not always it (a malloc
        // arena can be larger, and is refused as MALLOC).
        long[] range = javaHeap();
        dev.pkrseq.Mapping heap = vmas.stream().filter(v -> v.path().isEmpty() && v.perms().equals("rw-p")
                && v.start() < range[1] && v.end() > range[0]).findFirst().orElseThrow();
        notOwned(MemoryCalls.memory(Math.max(heap.start(), range[0]), Pages.size()),
                UntaggableSegmentException.Reason.ANONYMOUS, "anonymous memory pkrseq did not map", "the Java heap");
    }

    /** The Java heap's reserved range, as {@code jcmd <pid> GC.heap_info} prints it: {@code [0x…, 0x…)}. */
    private static long[] javaHeap() throws Exception {
        String info = (String) java.lang.management.ManagementFactory.getPlatformMBeanServer().invoke(
                new javax.management.ObjectName("com.sun.management:type=DiagnosticCommand"), "gcHeapInfo",
                new Object[] {null}, new String[] {String[].class.getName()});
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\[(0x\\p{XDigit}+), (0x\\p{XDigit}+)").matcher(info);
        assertTrue(m.find(), info);
        return new long[] {Long.decode(m.group(1)), Long.decode(m.group(2))};
    }

    @Test
    void taggingUnmappedMemoryGivesUntaggableSegmentExceptionNotMapped() {
        long a = MemoryCalls.mmap(0, Pages.size(), RW.bits(), MemoryCalls.MAP_PRIVATE | MemoryCalls.MAP_ANONYMOUS, -1, 0);
        MemoryCalls.munmap(a, Pages.size());
        notOwned(MemoryCalls.memory(a, Pages.size()), UntaggableSegmentException.Reason.NOT_MAPPED,
                String.format("unmapped (nothing is mapped at 0x%x)", a));
    }

    @Test
    void taggingPkrseqsPagesThroughAnotherSegmentGivesUntaggableSegmentExceptionAlias() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment pages = Pages.allocate(arena, 2);
            MemorySegment alias = MemoryCalls.memory(pages.address(), pages.byteSize());
            UntaggableSegmentException e = refused(UntaggableSegmentException.class,
                    () -> ProtectionKey.DEFAULT.protect(alias, RW), String.format("cannot tag 0x%x-0x%x through this"
                            + " segment: the pages are pkrseq's, but the segment is not the one Pages.allocate returned",
                            pages.address(), pages.address() + pages.byteSize()), "tag that segment or a slice of it");
            assertEquals(UntaggableSegmentException.Reason.ALIAS, e.reason());
        }
    }

    @Test
    void walkingMoreThanMaxPagesGivesUntaggableSegmentExceptionTooManyPages() {
        try (Arena arena = Arena.ofConfined()) {
            // Mapped, not touched: a gigabyte of address space costs nothing until written.
            MemorySegment big = Pages.allocate(arena, PageWalk.MAX_PAGES + 1);
            UntaggableSegmentException e = refused(UntaggableSegmentException.class,
                    () -> ProtectionKey.DEFAULT.tagPages(big, RW), "cannot walk " + (PageWalk.MAX_PAGES + 1)
                            + " pages one by one", "limited to " + PageWalk.MAX_PAGES + " pages");
            assertEquals(UntaggableSegmentException.Reason.TOO_MANY_PAGES, e.reason());
        }
    }

    @Test
    void mappingMorePagesThanAProcessCanHaveIsRefusedUpFront() {
        try (Arena arena = Arena.ofConfined()) {
            refused(IllegalArgumentException.class, () -> Pages.allocate(arena, Pages.MAX_COUNT + 1),
                    "cannot map " + (Pages.MAX_COUNT + 1) + " pages", "128 TiB");
            refused(IllegalArgumentException.class, () -> Pages.allocate(arena, Long.MAX_VALUE), "cannot map");
        }
    }

    @Test
    void theHazardOptInTagsMemoryPkrseqDidNotMap() {
        long a = MemoryCalls.mmap(0, Pages.size(), RW.bits(), MemoryCalls.MAP_PRIVATE | MemoryCalls.MAP_ANONYMOUS, -1, 0);
        try {
            MemorySegment raw = MemoryCalls.memory(a, Pages.size());
            if (!Features.pkeysWork()) {
                // Past every check of pkrseq: the kernel itself answers, here without protection keys.
                NativeException e = assertThrows(NativeException.class,
                        () -> ProtectionKey.DEFAULT.protect(raw, RW, Hazard.MAY_KILL_THIS_JVM));
                assertEquals(Errno.EINVAL, e.errno());
                return;
            }
            try (ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE)) {
                key.protect(raw, RW, Hazard.MAY_KILL_THIS_JVM);
                assertEquals(key.number(), dev.pkrseq.lab.PageKeys.of(raw).key(0));
                // The refused free names the remedy that works for such memory.
                refused(KeyInUseException.class, key::close, "refusing to free protection key " + key.number(),
                        "ProtectionKey.DEFAULT.protect(segment, prot, Hazard.MAY_KILL_THIS_JVM)");
                ProtectionKey.DEFAULT.protect(raw, RW, Hazard.MAY_KILL_THIS_JVM);
            }
        } finally {
            MemoryCalls.munmap(a, Pages.size());
        }
        CarriesOn.check();
    }

    // ---- the TLS retag's opt-ins -------------------------------------------------------------------

    @Test
    void retaggingTlsWithoutTheHazardIsRefused() {
        Features.assumeX86_64();
        refused(IllegalArgumentException.class, () -> dev.pkrseq.tls.Tls.retag(new ProtectionKey(9), null),
                "retagging a thread's TLS can kill the JVM", "pass Hazard.MAY_KILL_THIS_JVM");
    }

    @Test
    void retaggingTlsWithTheSharedDtvPageIsRefusedUnlessChosen() {
        Features.assumeX86_64();
        // A key object without a native key: the refusal comes before the key's rights are read.
        dev.pkrseq.tls.SharedDtvPageException e = refused(dev.pkrseq.tls.SharedDtvPageException.class,
                () -> dev.pkrseq.tls.Tls.retag(new ProtectionKey(9), Hazard.MAY_KILL_THIS_JVM), "refusing to retag the DTV"
                        + " page 0x", "of thread '" + Thread.currentThread().getName() + "' with key 9",
                "where glibc's malloc put the DTV among other threads' chunks",
                "Pass TlsRetag.Option.WITHOUT_DTV_PAGE to leave the page out, or TlsRetag.Option.WITH_SHARED_DTV_PAGE");
        assertTrue(e.page() != 0);
        assertFalse(dev.pkrseq.tls.TlsRetag.active().isPresent(), "nothing was retagged");
    }

    // ---- every PKRU write passes the same guard ------------------------------------------------------

    @Test
    void restoringAPkruConstantThatDeniesAKeyTaggingThisThreadsStackIsRefused() throws Exception {
        Features.assumePkeys();
        withKeyOnOwnStack("misuse-initial-pkru", key -> {
            Pkru before = Pkru.current();
            ThreadMemoryTaggedException e = refused(ThreadMemoryTaggedException.class, Pkru.INITIAL::restore,
                    "refusing to set key " + key.number() + " to no-access", "part of this thread's stack");
            assertEquals(key.number(), e.key());
            assertEquals(before, Pkru.current(), "no key was written");
        });
    }

    @Test
    void closingARightsScopeAfterItsKeyWritesNothingOntoTheFreedNumber() {
        Features.assumePkeys();
        ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE);
        int n = key.number();
        RightsScope scope = key.withRights(Rights.NO_ACCESS);
        key.close();
        scope.close();
        assertEquals(PkeyCalls.PKEY_DISABLE_ACCESS, PkeyCalls.pkeyGet(n), "the read-write bits the scope saved stay unwritten");
        CarriesOn.check();
    }

    /** A key that tags a page deep in a fresh platform thread's own stack, handed to code on that thread. */
    @FunctionalInterface
    interface OnOwnStack {
        void run(ProtectionKey key) throws Throwable;
    }

    /**
     * Runs the body on a fresh platform thread of known stack size while a new key tags a page of that
     * thread's stack, one that lies deep below anything the thread uses; the page gets key 0 back after.
     */
    static void withKeyOnOwnStack(String thread, OnOwnStack body) throws InterruptedException {
        Threads.runOn(Thread.ofPlatform().name(thread).stackSize(1 << 20), () -> {
            MemorySegment deep = deepStackPage();
            try (ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE)) {
                key.protect(deep, RW, Hazard.MAY_KILL_THIS_JVM);
                try {
                    body.run(key);
                } finally {
                    ProtectionKey.DEFAULT.protect(deep, RW, Hazard.MAY_KILL_THIS_JVM);
                }
            }
        });
    }

    private static MemorySegment deepStackPage() {
        return MemoryCalls.memory(ThreadCalls.threadStack().low() + 32 * Pages.size(), Pages.size());
    }

    private static ProtectionKey closedKey() {
        ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE);
        key.close();
        return key;
    }
}
