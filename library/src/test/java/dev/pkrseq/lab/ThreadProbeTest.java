package dev.pkrseq.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pkrseq.sys.MemoryCalls;
import dev.pkrseq.sys.ThreadCalls;
import dev.pkrseq.testing.AnonPages;
import org.junit.jupiter.api.Test;

/** A probe thread of its own: tasks run there, on a platform thread that lives until close. */
class ThreadProbeTest {

    @Test
    void tasksRunOnTheProbesOwnPlatformThread() {
        try (ThreadProbe p = ThreadProbe.start("probe-thread")) {
            assertNotEquals(ThreadCalls.gettid(), p.tid());
            assertEquals(p.tid(), p.call(ThreadCalls::gettid), "every task runs on the same thread");
            assertEquals("probe-thread", p.call(() -> Thread.currentThread().getName()));
            assertFalse(p.call(() -> Thread.currentThread().isVirtual()));
        }
    }

    @Test
    void exceptionsReachTheCallerAsThrown() {
        IllegalArgumentException boom = new IllegalArgumentException("boom");
        try (ThreadProbe p = ThreadProbe.start("probe-throws")) {
            assertSame(boom, assertThrows(IllegalArgumentException.class, () -> p.run(() -> {
                throw boom;
            })));
            assertEquals(p.tid(), p.call(ThreadCalls::gettid), "the thread survives a failed task");
        }
    }

    @Test
    void accessProbesAnswerForTheProbesThread() {
        try (AnonPages a = AnonPages.map(1, MemoryCalls.PROT_READ); ThreadProbe p = ThreadProbe.start("probe-access")) {
            var seg = MemoryCalls.memory(a.address(), a.size());
            assertTrue(p.canRead(seg));
            assertFalse(p.canWrite(seg));
        }
    }

    @Test
    void closeEndsTheThread() throws Exception {
        ThreadProbe p = ThreadProbe.start("probe-ends");
        Thread t = p.call(Thread::currentThread);
        p.close();
        t.join(10_000);
        assertFalse(t.isAlive());
    }

    @Test
    void callFromATaskOnTheProbesThreadRunsThereInsteadOfWaitingForItself() throws Exception {
        try (ThreadProbe p = ThreadProbe.start("probe-nested")) {
            java.util.concurrent.CompletableFuture<Integer> nested = java.util.concurrent.CompletableFuture.supplyAsync(
                    () -> p.call(() -> p.call(ThreadCalls::gettid)));
            // Queued behind itself, the inner call would never run.
            assertEquals(p.tid(), nested.get(10, java.util.concurrent.TimeUnit.SECONDS));
        }
    }

    @Test
    void closeFromATaskOnTheProbesThreadEndsItWithoutWaitingForItself() throws Exception {
        ThreadProbe p = ThreadProbe.start("probe-closes-itself");
        Thread t = p.call(Thread::currentThread);
        long start = System.nanoTime();
        p.run(p::close);
        assertTrue(System.nanoTime() - start < 10_000_000_000L, "close waited for its own thread");
        t.join(10_000);
        assertFalse(t.isAlive());
    }
}
