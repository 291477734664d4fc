package dev.pkrseq.rseq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pkrseq.RseqAreaGoneException;
import java.util.BitSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import dev.pkrseq.sys.ThreadCalls;
import dev.pkrseq.testing.Features;
import dev.pkrseq.testing.Threads;
import org.junit.jupiter.api.Test;

/** Views of another thread's struct rseq: readable while the thread lives, refused once it is gone. */
class RseqViewTest {

    /** A thread that shares its area, pins itself to one CPU, and waits to be released. */
    private static final class Sharer implements AutoCloseable {
        final CountDownLatch shared = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        final AtomicReference<RseqView> view = new AtomicReference<>();
        final Thread thread;

        Sharer(int cpu, boolean closeOnExit) throws InterruptedException {
            thread = Thread.ofPlatform().name("view-owner").start(() -> {
                BitSet one = new BitSet();
                one.set(cpu);
                ThreadCalls.schedSetaffinity(0, one);
                RseqView v = Rseq.current().orElseThrow().share();
                view.set(v);
                shared.countDown();
                try {
                    release.await(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } finally {
                    if (closeOnExit) {
                        v.close();
                    }
                }
            });
            assertTrue(shared.await(30, TimeUnit.SECONDS));
        }

        @Override
        public void close() {
            release.countDown();
            try {
                thread.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }

    @Test
    void viewReadsTheOwnersCpuFromAnotherThread() throws Exception {
        Features.assumeRseq();
        int cpu = ThreadCalls.schedGetaffinity(0).length() - 1;
        try (Sharer o = new Sharer(cpu, true)) {
            RseqSample s = o.view.get().sample();
            assertEquals(cpu, s.cpuId());
            assertEquals(cpu, o.view.get().cpuId());
            assertEquals(o.thread, o.view.get().thread());
            assertTrue(s.mmCid().isEmpty(), "glibc's area does not cover mm_cid");
        }
    }

    @Test
    void viewRefusesReadsOnceItsOwnerClosedIt() throws Exception {
        Features.assumeRseq();
        Sharer o = new Sharer(0, true);
        o.close();
        RseqAreaGoneException e = assertThrows(RseqAreaGoneException.class, () -> o.view.get().cpuId());
        assertEquals(RseqAreaGoneException.Reason.CLOSED, e.reason());
        assertTrue(e.getMessage().startsWith("cannot read the rseq area of thread 'view-owner'"), e.getMessage());
    }

    @Test
    void viewRefusesReadsOnceItsOwnerEndedWithoutClosingIt() throws Exception {
        Features.assumeRseq();
        Sharer o = new Sharer(0, false);
        o.close();
        assertFalse(o.view.get().isOpen());
        RseqAreaGoneException e = assertThrows(RseqAreaGoneException.class, () -> o.view.get().sample());
        assertEquals(RseqAreaGoneException.Reason.THREAD_ENDED, e.reason());
        assertTrue(e.getMessage().endsWith("the thread has ended"), e.getMessage());
    }

    @Test
    void shareIsRefusedOnAThreadOtherThanTheOwner() throws Exception {
        Features.assumeRseq();
        // The handle is taken here, on its owner; share() is then called on another thread.
        Throwable thrown = Threads.thrownOn(Thread.ofPlatform(), Rseq.current().orElseThrow()::share);
        assertTrue(thrown instanceof WrongThreadException, String.valueOf(thrown));
    }
}
