package dev.pkrseq.rseq;

import dev.pkrseq.UnavailableException;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.ref.WeakReference;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicLong;

import dev.pkrseq.proc.Smaps;
import dev.pkrseq.sys.ThreadCalls;
import dev.pkrseq.testing.Features;
import dev.pkrseq.testing.Pinned;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Each primitive, one call at a time, on a thread pinned to one CPU so that the copy it must touch is
 * known: what it stores, what it leaves alone, what it returns, and what it refuses.
 */
class PerCpuOpsTest {
    private static PerCpuOps ops;
    private static PerCpuPool pool;
    private static int cpu;

    @BeforeAll
    static void glibcRegistered() {
        Features.assumeRseq();
        ops = PerCpuOps.cpuId();
        pool = PerCpuPool.create(64);
        cpu = Pinned.firstAllowedCpu();
    }

    /**
     * Runs on this thread pinned to one CPU, and restores the affinity. A section the kernel aborted (a
     * preemption or an interrupt can land in any one) is made again, as every caller of the primitives does.
     */
    static <T> T pinned(int on, Callable<T> body) throws Exception {
        try (Pinned _ = Pinned.to(on)) {
            for (;;) {
                T r = body.call();
                if (!(r instanceof Long l) || PerCpuOps.status(l) != PerCpuOps.Status.ABORTED) {
                    return r;
                }
            }
        }
    }

    static long word(PerCpuPool.Item item, int on, long offset) {
        return item.slot(on).get(JAVA_LONG, offset);
    }

    @Test
    void compareAndStoreStoresIntoTheCopyOfTheCpuItRunsOnWhenItHoldsTheExpectedValue() throws Exception {
        PerCpuPool.Item v = pool.allocate();
        long r = pinned(cpu, () -> {
            assertEquals(cpu, ops.currentIndex());
            return ops.compareAndStore(v.percpu(), 0, 42);
        });
        assertEquals(cpu, r, PerCpuOps.status(r).toString());
        for (int c = 0; c < pool.slots(); c++) {
            assertEquals(c == cpu ? 42 : 0, word(v, c, 0), "CPU " + c);
        }
    }

    @Test
    void compareAndStoreFailsWithTheIndexAndStoresNothingWhenTheCopyDiffers() throws Exception {
        PerCpuPool.Item v = pool.allocate();
        v.slot(cpu).set(JAVA_LONG, 0, 7);
        long r = pinned(cpu, () -> ops.compareAndStore(v.percpu(), 8, 42));
        assertEquals(PerCpuOps.Status.COMPARISON_FAILED, PerCpuOps.status(r));
        assertEquals(cpu, PerCpuOps.index(r));
        assertEquals(7, word(v, cpu, 0));
    }

    @Test
    void addAddsToTheCopyOfTheCpuItRunsOnOnly() throws Exception {
        PerCpuPool.Item v = pool.allocate();
        for (int c : ThreadCalls.schedGetaffinity(0).stream().toArray()) {
            long r = pinned(c, () -> ops.add(v.percpu(), c + 10));
            assertEquals(c, r);
        }
        for (int c = 0; c < pool.slots(); c++) {
            assertEquals(ThreadCalls.schedGetaffinity(0).get(c) ? c + 10 : 0, word(v, c, 0), "CPU " + c);
        }
    }

    @Test
    void addAllAddsEachDeltaToItsWordOfTheCopyOfTheCpuItRunsOn() throws Exception {
        PerCpuPool.Item v = pool.allocate();
        MemorySegment deltas = Arena.ofAuto().allocate(64, 8);
        for (int i = 0; i < 8; i++) {
            deltas.set(JAVA_LONG, 8L * i, 100 + i);
        }
        long r = pinned(cpu, () -> ops.addAll(v.percpu(), deltas, 8));
        assertEquals(cpu, r);
        r = pinned(cpu, () -> ops.addAll(v.percpu(), deltas, 3));
        assertEquals(cpu, r);
        for (int i = 0; i < 8; i++) {
            assertEquals((100 + i) * (i < 3 ? 2 : 1), word(v, cpu, 8L * i), "word " + i);
        }
        for (int c = 0; c < pool.slots(); c++) {
            if (c != cpu) {
                assertEquals(0, word(v, c, 0), "CPU " + c);
            }
        }
        assertThrows(IllegalArgumentException.class, () -> ops.addAll(v.percpu(), deltas, 0));
        assertThrows(IllegalArgumentException.class, () -> ops.addAll(v.percpu(), deltas, 9), "more words than the item");
    }

    @Test
    void addAllStaysExactWhenItsSectionsAreAborted() throws Exception {
        // Long sections and a thread that keeps moving: aborts are retried inside the call, word by word.
        PerCpuOps slow = PerCpuOps.of(PerCpuOps.Index.CPU_ID, PerCpuOps.DEFAULT_STRIDE, DelayInjection.at(3, 20_000));
        PerCpuPool.Item v = pool.allocate();
        MemorySegment deltas = Arena.ofAuto().allocate(64, 8);
        for (int i = 0; i < 8; i++) {
            deltas.set(JAVA_LONG, 8L * i, 1);
        }
        Thread[] threads = new Thread[6];
        for (int t = 0; t < threads.length; t++) {
            threads[t] = Thread.ofPlatform().start(() -> {
                for (int k = 0; k < 300; k++) {
                    slow.addAll(v.percpu(), deltas, 8);
                }
            });
        }
        for (Thread t : threads) {
            t.join();
        }
        for (int i = 0; i < 8; i++) {
            long sum = 0;
            for (int c = 0; c < pool.slots(); c++) {
                sum += word(v, c, 8L * i);
            }
            assertEquals(6 * 300, sum, "word " + i);
        }
    }

    /** Three nodes of 16 bytes {data, next} in a region: head -> n0 -> n1 -> 0. */
    private static MemorySegment stackOfTwo(PerCpuPool.Item head) {
        MemorySegment nodes = Arena.ofAuto().allocate(48, 16);
        nodes.set(JAVA_LONG, 8, nodes.address() + 16);
        nodes.set(JAVA_LONG, 24, 0L);
        head.slot(cpu).set(JAVA_LONG, 0, nodes.address());
        return nodes;
    }

    @Test
    void takeAndFollowPopsTheHeadAndInstallsItsNextPointer() throws Exception {
        PerCpuPool.Item head = pool.allocate();
        MemorySegment nodes = stackOfTwo(head);
        long first = pinned(cpu, () -> ops.takeAndFollow(head.percpu(), 0, 8, nodes));
        assertEquals(nodes.address(), first);
        assertEquals(nodes.address() + 16, word(head, cpu, 0));
        long second = pinned(cpu, () -> ops.takeAndFollow(head.percpu(), 0, 8, nodes));
        assertEquals(nodes.address() + 16, second);
        assertEquals(0, word(head, cpu, 0));
    }

    @Test
    void popAllTakesNodesUntilTheStackIsEmptyAndPushAllPutsThemBackInOrder() throws Exception {
        PerCpuPool.Item head = pool.allocate();
        MemorySegment nodes = Arena.ofAuto().allocate(16 * 5, 16);
        MemorySegment list = Arena.ofAuto().allocate(8 * 5, 8);
        for (int i = 0; i < 5; i++) {
            list.set(JAVA_LONG, 8L * i, nodes.address() + 16L * i);
        }
        long r = pinned(cpu, () -> ops.pushAll(head.percpu(), list, 8, nodes, 5));
        assertTrue(r >= 0, PerCpuOps.status(r).toString());
        assertEquals(nodes.address() + 64, word(head, cpu, 0), "the last node pushed is the head");
        MemorySegment out = Arena.ofAuto().allocate(8 * 8, 8);
        long taken = pinned(cpu, () -> ops.popAll(head.percpu(), 8, nodes, out, 3));
        assertEquals(3, taken);
        for (int i = 0; i < 3; i++) {
            assertEquals(nodes.address() + 16L * (4 - i), out.get(JAVA_LONG, 8L * i));
        }
        taken = pinned(cpu, () -> ops.popAll(head.percpu(), 8, nodes, out, 8));
        assertEquals(2, taken, "only two were left");
        assertEquals(0, word(head, cpu, 0));
        assertEquals(0L, (long) pinned(cpu, () -> ops.popAll(head.percpu(), 8, nodes, out, 8)));
    }

    @Test
    void pushLinkMakesTheNodeTheHeadOfThisCpusStackAndLinksTheOldHead() throws Exception {
        PerCpuPool.Item head = pool.allocate();
        MemorySegment nodes = Arena.ofAuto().allocate(32, 16);
        long r = pinned(cpu, () -> ops.pushLink(head.percpu(), nodes.address(), 8, nodes));
        assertEquals(cpu, r);
        r = pinned(cpu, () -> ops.pushLink(head.percpu(), nodes.address() + 16, 8, nodes));
        assertEquals(cpu, r);
        assertEquals(nodes.address() + 16, word(head, cpu, 0));
        assertEquals(nodes.address(), nodes.get(JAVA_LONG, 24));
        assertEquals(0, nodes.get(JAVA_LONG, 8));
        r = pinned(cpu, () -> ops.pushLink(head.percpu(), 0x40L, 8, nodes));
        assertEquals(PerCpuOps.Status.BAD_POINTER, PerCpuOps.status(r));
        assertEquals(nodes.address() + 16, word(head, cpu, 0), "a refused node changes nothing");
    }

    @Test
    void pushAllRefusesANodeOutsideTheRegionAfterPushingThoseBeforeIt() throws Exception {
        PerCpuPool.Item head = pool.allocate();
        MemorySegment nodes = Arena.ofAuto().allocate(32, 16);
        MemorySegment list = Arena.ofAuto().allocate(16, 8);
        list.set(JAVA_LONG, 0, nodes.address());
        list.set(JAVA_LONG, 8, 0x40L);
        long r = pinned(cpu, () -> ops.pushAll(head.percpu(), list, 8, nodes, 2));
        assertEquals(PerCpuOps.Status.BAD_POINTER, PerCpuOps.status(r));
        assertEquals(1, PerCpuOps.index(r), "one pushed before the bad one");
        assertEquals(nodes.address(), word(head, cpu, 0));
    }

    @Test
    void takeAndFollowOnTheSentinelReportsComparisonFailedAndTakesNothing() throws Exception {
        PerCpuPool.Item head = pool.allocate();
        MemorySegment nodes = Arena.ofAuto().allocate(16, 16);
        long r = pinned(cpu, () -> ops.takeAndFollow(head.percpu(), 0, 8, nodes));
        assertEquals(PerCpuOps.Status.COMPARISON_FAILED, PerCpuOps.status(r));
        assertEquals(0, word(head, cpu, 0));
    }

    @ParameterizedTest
    @ValueSource(longs = {8, 0x1000, -16})
    void takeAndFollowRefusesAPointerOutsideTheRegionInsteadOfFollowingIt(long bogus) throws Exception {
        // A corrupt head (8: a near-null pointer; an address below the region; one in kernel space) would make a
        // plain pop fault and kill the JVM; the section checks the word it follows and touches nothing.
        PerCpuPool.Item head = pool.allocate();
        MemorySegment nodes = Arena.ofAuto().allocate(64, 16);
        head.slot(cpu).set(JAVA_LONG, 0, bogus);
        long r = pinned(cpu, () -> ops.takeAndFollow(head.percpu(), 0, 8, nodes));
        assertEquals(PerCpuOps.Status.BAD_POINTER, PerCpuOps.status(r));
        assertEquals(bogus, word(head, cpu, 0));
    }

    @Test
    void addIndirectAddsThroughTheSharedPointerToThisCpusTarget() throws Exception {
        Indirection in = Indirection.of(pool, 8);
        long r = pinned(cpu, () -> ops.addIndirect(in.ptr(), 8, 5, in.entries().percpu(), in.targets()));
        assertEquals(cpu, r);
        for (int c = 0; c < pool.slots(); c++) {
            assertEquals(c == cpu ? 5 : 0, in.target(c), "target of CPU " + c);
        }
    }

    @Test
    void addIndirectRefusesAnEntryOrATargetOutsideItsRegion() throws Exception {
        PerCpuPool.Item entries = pool.allocate();
        MemorySegment targets = Arena.ofAuto().allocate(16L * pool.slots(), 16);
        MemorySegment ptr = Arena.ofAuto().allocate(8, 8);
        // The shared pointer itself outside the entries.
        ptr.set(JAVA_LONG, 0, 64L);
        long r = pinned(cpu, () -> ops.addIndirect(ptr, 0, 1, entries.percpu(), targets));
        assertEquals(PerCpuOps.Status.BAD_POINTER, PerCpuOps.status(r));
        // The entry's target outside the targets.
        ptr.set(JAVA_LONG, 0, entries.percpu().address());
        entries.slot(cpu).set(JAVA_LONG, 0, 24L);
        r = pinned(cpu, () -> ops.addIndirect(ptr, 0, 1, entries.percpu(), targets));
        assertEquals(PerCpuOps.Status.BAD_POINTER, PerCpuOps.status(r));
        assertEquals(0, targets.get(JAVA_LONG, 16L * cpu));
    }

    @Test
    void compareBothAndStoreCommitsOnlyWhenBothComparisonsHold() throws Exception {
        PerCpuPool.Item v = pool.allocate();
        v.slot(cpu).set(JAVA_LONG, 0, 1);
        v.slot(cpu).set(JAVA_LONG, 8, 2);
        MemorySegment w = v.percpu();
        MemorySegment w2 = w.asSlice(8);
        long r = pinned(cpu, () -> ops.compareBothAndStore(w, 1, w2, 3, 9));
        assertEquals(PerCpuOps.Status.COMPARISON_FAILED, PerCpuOps.status(r));
        assertEquals(1, word(v, cpu, 0));
        r = pinned(cpu, () -> ops.compareBothAndStore(w, 1, w2, 2, 9));
        assertEquals(cpu, r);
        assertEquals(9, word(v, cpu, 0));
        assertEquals(2, word(v, cpu, 8));
    }

    @Test
    void compareStoreAndStoreWritesTheSecondWordThenCommitsTheFirst() throws Exception {
        PerCpuPool.Item v = pool.allocate();
        MemorySegment w = v.percpu();
        MemorySegment w2 = w.asSlice(16);
        long r = pinned(cpu, () -> ops.compareStoreAndStore(w, 0, w2, 77, 1, PerCpuOps.Order.RELEASE));
        assertEquals(cpu, r);
        assertEquals(1, word(v, cpu, 0));
        assertEquals(77, word(v, cpu, 16));
        r = pinned(cpu, () -> ops.compareStoreAndStore(w, 0, w2, 88, 2, PerCpuOps.Order.RELAXED));
        assertEquals(PerCpuOps.Status.COMPARISON_FAILED, PerCpuOps.status(r));
        assertEquals(77, word(v, cpu, 16), "a failed comparison stores nothing");
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 7, 8, 9, 15, 16, 31, 4096})
    void copiesMoveExactlyLengthBytesIntoAndOutOfThisCpusCopy(int length) throws Exception {
        PerCpuPool big = PerCpuPool.create(8192);
        PerCpuPool.Item v = big.allocate();
        MemorySegment state = v.percpu();
        MemorySegment data = state.asSlice(64);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment src = a.allocate(4097);
            MemorySegment dst = a.allocate(4097);
            for (int i = 0; i < 4097; i++) {
                src.set(JAVA_BYTE, i, (byte) (i * 7 + 1));
                dst.set(JAVA_BYTE, i, (byte) 0x5a);
            }
            long r = pinned(cpu, () -> ops.compareCopyInAndStore(state, 0, data, src, length, 1, PerCpuOps.Order.RELAXED));
            assertEquals(cpu, r);
            assertEquals(1, word(v, cpu, 0));
            MemorySegment copy = v.slot(cpu).asSlice(64, length + 1);
            assertArrayEquals(src.asSlice(0, length).toArray(JAVA_BYTE), copy.asSlice(0, length).toArray(JAVA_BYTE));
            assertEquals(0, copy.get(JAVA_BYTE, length), "one byte too many copied in");
            r = pinned(cpu, () -> ops.compareCopyOutAndStore(state, 1, dst, data, length, 2, PerCpuOps.Order.RELAXED));
            assertEquals(cpu, r);
            assertEquals(2, word(v, cpu, 0));
            assertArrayEquals(src.asSlice(0, length).toArray(JAVA_BYTE), dst.asSlice(0, length).toArray(JAVA_BYTE));
            assertEquals((byte) 0x5a, dst.get(JAVA_BYTE, length), "one byte too many copied out");
        }
    }

    @Test
    void theHookRunsOnceForEverySectionACallEnters() throws Exception {
        AtomicLong runs = new AtomicLong();
        PerCpuOps hooked = PerCpuOps.of(PerCpuOps.Index.CPU_ID, PerCpuOps.DEFAULT_STRIDE, DelayInjection.NONE,
                runs::incrementAndGet);
        PerCpuPool.Item v = pool.allocate();
        MemorySegment state = v.percpu();
        MemorySegment data = state.asSlice(32);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(8);
            // Each of these is one section, whatever it returns: a retry is the caller's.
            pinned(cpu, () -> hooked.compareAndStore(state, 0, 0));
            assertEquals(1, runs.get(), "compareAndStore");
            pinned(cpu, () -> hooked.compareCopyInAndStore(state, 0, data, buf, 8, 0, PerCpuOps.Order.RELAXED));
            assertEquals(2, runs.get(), "compareCopyInAndStore");
            pinned(cpu, () -> hooked.compareCopyOutAndStore(state, 0, buf, data, 8, 0, PerCpuOps.Order.RELAXED));
            assertEquals(3, runs.get(), "compareCopyOutAndStore");
        }
    }

    @Test
    void operandThatDoesNotSpanEveryCopyIsRefusedBeforeAnyCodeRuns() {
        PerCpuPool.Item v = pool.allocate();
        MemorySegment oneCopy = v.slot(0);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ops.add(oneCopy, 1));
        assertTrue(e.getMessage().contains("spanning every copy"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ops.add(MemorySegment.ofArray(new long[100_000]), 1));
        assertThrows(IllegalArgumentException.class, () -> ops.add(v.percpu().asSlice(4), 1));
        MemorySegment buf = Arena.ofAuto().allocate(8192);
        e = assertThrows(IllegalArgumentException.class, () -> ops.compareCopyOutAndStore(v.percpu(), 0, buf,
                v.percpu(), 4097, 1, PerCpuOps.Order.RELAXED));
        assertTrue(e.getMessage().contains("4096"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ops.takeAndFollow(v.percpu(), 0, 8, MemorySegment.ofArray(
                new long[4])));
    }

    @Test
    void resultsDecodeToTheirStatusAndIndex() {
        assertEquals(PerCpuOps.Status.OK, PerCpuOps.status(3));
        assertEquals(3, PerCpuOps.index(3));
        long failed = ~(5L << 8 | RseqCode.CMP_FAILED);
        assertEquals(PerCpuOps.Status.COMPARISON_FAILED, PerCpuOps.status(failed));
        assertEquals(5, PerCpuOps.index(failed));
        assertEquals(PerCpuOps.Status.ABORTED, PerCpuOps.status(~(long) RseqCode.ABORTED));
        long noSlot = ~(0xffffffffL << 8 | RseqCode.NO_SLOT);
        assertEquals(PerCpuOps.Status.NO_SLOT, PerCpuOps.status(noSlot));
        assertEquals(-1, PerCpuOps.index(noSlot));
        assertEquals(PerCpuOps.Status.BAD_POINTER, PerCpuOps.status(~(long) RseqCode.BAD_POINTER));
        assertTrue(PerCpuOps.succeeded(0) && !PerCpuOps.succeeded(failed));
    }

    @Test
    void mmCidIsRefusedByNameWhereGlibcsRegistrationDoesNotCoverIt() {
        assumeTrue(Rseq.owner() == Owner.GLIBC && Rseq.glibcCoveredLength() < RseqAbi.MM_CID + 4,
                "glibc's registration here covers mm_cid");
        UnavailableException e = assertThrows(UnavailableException.class, () -> PerCpuOps.of(
                PerCpuOps.Index.MM_CID));
        assertEquals(UnavailableException.Feature.MM_CID, e.feature());
        assertTrue(e.getMessage().contains("__rseq_size " + Rseq.glibcSize()) && e.getMessage().contains(
                "GLIBC_TUNABLES=glibc.pthread.rseq=0"), e.getMessage());
        assertTrue(PerCpuOps.whyUnavailable(PerCpuOps.Index.MM_CID).isPresent());
        assertTrue(PerCpuOps.whyUnavailable(PerCpuOps.Index.CPU_ID).isEmpty());
    }

    @Test
    void codeOfItsOwnPageLeavesRseqCsZeroOnEveryWayOut() throws Exception {
        PerCpuOps own = PerCpuOps.of(PerCpuOps.Index.CPU_ID, PerCpuOps.DEFAULT_STRIDE, DelayInjection.at(3, 10));
        PerCpuPool.Item v = pool.allocate();
        RseqArea area = Rseq.current().orElseThrow();
        pinned(cpu, () -> own.add(v.percpu(), 1));
        assertEquals(0, area.rseqCs(), "after a commit");
        pinned(cpu, () -> own.compareAndStore(v.percpu(), 99, 1));
        assertEquals(0, area.rseqCs(), "after a failed comparison");
        MemorySegment nodes = Arena.ofAuto().allocate(64, 16);
        v.slot(cpu).set(JAVA_LONG, 0, 8L);
        pinned(cpu, () -> own.takeAndFollow(v.percpu(), 0, 8, nodes));
        assertEquals(0, area.rseqCs(), "after a bad pointer");
    }

    @Test
    void codeOfItsOwnPageIsUnmappedOnceUnreachable() throws Exception {
        PerCpuOps own = PerCpuOps.of(PerCpuOps.Index.CPU_ID, PerCpuOps.DEFAULT_STRIDE, DelayInjection.at(2, 3));
        String listing = own.listing();
        long page = Long.parseLong(listing.substring(7, listing.indexOf(' ', 7)), 16);
        own.add(pool.allocate().percpu(), 1);
        assertTrue(Smaps.containing(Smaps.self(), page).isPresent());
        WeakReference<PerCpuOps> ref = new WeakReference<>(own);
        own = null;
        long deadline = System.nanoTime() + 10_000_000_000L;
        while ((ref.get() != null || Smaps.containing(Smaps.self(), page).filter(v -> v.perms().equals("r-xp"))
                .isPresent()) && System.nanoTime() < deadline) {
            System.gc();
            Thread.sleep(20);
        }
        assertTrue(Smaps.containing(Smaps.self(), page).filter(v -> v.perms().equals("r-xp")).isEmpty(),
                "the page is still mapped r-x");
    }

    @Test
    void virtualThreadsRunTheGlibcVariantOnTheirCarriersArea() throws Exception {
        assumeTrue(ops.owner() == Owner.GLIBC);
        PerCpuPool.Item v = pool.allocate();
        AtomicLong result = new AtomicLong(-1);
        Thread.ofVirtual().start(() -> {
            for (int i = 0; i < 1000; i++) {
                long r;
                do {
                    r = ops.add(v.percpu(), 1);
                } while (PerCpuOps.status(r) == PerCpuOps.Status.ABORTED);
                result.set(r);
            }
        }).join();
        assertTrue(result.get() >= 0, PerCpuOps.status(result.get()).toString());
        long sum = 0;
        for (int c = 0; c < pool.slots(); c++) {
            sum += word(v, c, 0);
        }
        assertEquals(1000, sum);
    }
}
