package dev.pkrseq.rseq.percpu;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

import dev.pkrseq.rseq.PerCpuOps;
import dev.pkrseq.rseq.PerCpuPool;
import dev.pkrseq.sys.MemoryCalls;
import dev.pkrseq.testing.Features;
import dev.pkrseq.testing.Pinned;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The structures' behaviour one call at a time, on a thread pinned to one CPU. */
class PerCpuStructuresTest {
    private static PerCpuOps ops;
    private static int cpu;

    @BeforeAll
    static void rseq() {
        Features.assumeRseq();
        ops = PerCpuOps.cpuId();
        cpu = Pinned.firstAllowedCpu();
    }

    @Test
    void listPopsWhatWasPushedLastFirstAndZeroWhenEmpty() {
        MemorySegment nodes = Arena.ofAuto().allocate(48, 16);
        PerCpuList list = new PerCpuList(ops, PerCpuPool.create(8), nodes, 8);
        try (Pinned _ = Pinned.to(cpu)) {
            assertEquals(0, list.pop());
            for (int i = 0; i < 3; i++) {
                assertEquals(cpu, list.push(nodes.address() + 16L * i));
            }
            for (int i = 2; i >= 0; i--) {
                assertEquals(nodes.address() + 16L * i, list.pop());
            }
            assertEquals(0, list.pop());
        }
    }

    @Test
    void listMovesBatchesInOneCallEach() {
        MemorySegment nodes = Arena.ofAuto().allocate(16 * 8, 16);
        PerCpuList list = new PerCpuList(ops, PerCpuPool.create(8), nodes, 8);
        MemorySegment batch = Arena.ofAuto().allocate(8 * 8, 8);
        for (int i = 0; i < 8; i++) {
            batch.set(JAVA_LONG, 8L * i, nodes.address() + 16L * i);
        }
        try (Pinned _ = Pinned.to(cpu)) {
            list.pushAll(batch, 8);
            MemorySegment out = Arena.ofAuto().allocate(8 * 10, 8);
            assertEquals(8, list.popMany(out, 10));
            for (int i = 0; i < 8; i++) {
                assertEquals(nodes.address() + 16L * (7 - i), out.get(JAVA_LONG, 8L * i));
            }
            assertEquals(0, list.popMany(out, 10));
        }
    }

    @Test
    void listRefusesANodeOutsideItsRegionAndReportsACorruptHeadInsteadOfCrashing() {
        MemorySegment nodes = Arena.ofAuto().allocate(32, 16);
        PerCpuPool pool = PerCpuPool.create(8);
        PerCpuList list = new PerCpuList(ops, pool, nodes, 8);
        assertThrows(IllegalArgumentException.class, () -> list.push(nodes.address() + 32));
        assertThrows(IllegalArgumentException.class, () -> list.push(nodes.address() + 4));
        assertThrows(IllegalArgumentException.class, () -> list.push(0));
        try (Pinned _ = Pinned.to(cpu)) {
            list.pushQuiescent(cpu, nodes.address());
            // Corrupt the node's next pointer, then pop twice: the second pop would follow it.
            nodes.set(JAVA_LONG, 8, 0x10L);
            assertEquals(nodes.address(), list.pop());
            IllegalStateException e = assertThrows(IllegalStateException.class, list::pop);
            assertTrue(e.getMessage().contains("BAD_POINTER"), e.getMessage());
        }
    }

    @Test
    void ringIsFirstInFirstOutBoundedAndWrapsAround() {
        PerCpuRing ring = new PerCpuRing(ops, PerCpuPool.create(PerCpuRing.bytesPerCpu(4)), 4, PerCpuOps.Order.RELEASE);
        try (Pinned _ = Pinned.to(cpu)) {
            assertEquals(0, ring.poll());
            long next = 1;
            long expect = 1;
            for (int round = 0; round < 10; round++) {
                for (int i = 0; i < 4; i++) {
                    assertTrue(ring.offer(next++));
                }
                assertFalse(ring.offer(next), "a fifth entry in a ring of 4");
                assertEquals(4, ring.size(cpu));
                for (int i = 0; i < 4; i++) {
                    assertEquals(expect++, ring.poll());
                }
                assertEquals(0, ring.poll());
            }
        }
        assertThrows(IllegalArgumentException.class, () -> ring.offer(0));
        assertThrows(IllegalArgumentException.class, () -> new PerCpuRing(ops, PerCpuPool.create(64), 3,
                PerCpuOps.Order.RELAXED));
    }

    @Test
    void itemRingCopiesWholeItemsInAndOutInOrder() {
        PerCpuItemRing ring = new PerCpuItemRing(ops, PerCpuPool.create(PerCpuItemRing.bytesPerCpu(8, 20)), 8, 20,
                PerCpuOps.Order.RELAXED);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment item = a.allocate(20, 8);
            MemorySegment out = a.allocate(20, 8);
            try (Pinned _ = Pinned.to(cpu)) {
                for (int i = 1; i <= 8; i++) {
                    item.fill((byte) i);
                    assertTrue(ring.offer(item));
                }
                assertFalse(ring.offer(item));
                for (int i = 1; i <= 8; i++) {
                    assertTrue(ring.poll(out));
                    for (int b = 0; b < 20; b++) {
                        assertEquals(i, out.get(java.lang.foreign.ValueLayout.JAVA_BYTE, b));
                    }
                }
                assertFalse(ring.poll(out));
            }
        }
    }

    @Test
    void spinlockHandsOutTheLockOfTheCpuAndMakesASecondTakerThereWait() throws Exception {
        PerCpuSpinlock lock = new PerCpuSpinlock(ops, PerCpuPool.create(8));
        int held;
        try (Pinned _ = Pinned.to(cpu)) {
            held = lock.lock();
        }
        assertEquals(cpu, held);
        assertTrue(lock.isLocked(cpu));
        CountDownLatch started = new CountDownLatch(1);
        AtomicBoolean got = new AtomicBoolean();
        Thread other = Thread.ofPlatform().start(() -> {
            Pinned.to(cpu); // for the rest of this short thread's life
            started.countDown();
            int i = lock.lock();
            got.set(true);
            lock.unlock(i);
        });
        started.await();
        Thread.sleep(100);
        assertFalse(got.get(), "a second thread on the same CPU took a held lock");
        lock.unlock(held);
        assertTrue(other.join(java.time.Duration.ofSeconds(10)));
        assertTrue(got.get());
        assertTrue(lock.contended() >= 1);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> lock.unlock(cpu));
        assertTrue(e.getMessage().contains("not held"), e.getMessage());
    }

    @Test
    void strideOfTheOperationsAndOfThePoolMustAgree() {
        assumeTrue(MemoryCalls.pageSize() < PerCpuPool.DEFAULT_STRIDE);
        assertThrows(IllegalArgumentException.class, () -> new PerCpuSpinlock(ops, PerCpuPool.create(8,
                PerCpuPool.DEFAULT_STRIDE / 2)));
    }
}
