package dev.pkrseq.rseq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import dev.pkrseq.sys.LoaderCalls;
import dev.pkrseq.sys.ThreadCalls;
import dev.pkrseq.testing.Features;
import dev.pkrseq.testing.Threads;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The fast current CPU: a per-thread handle whose cpu_id read is one load, confined to its thread. */
class RseqCpuIdTest {

    @AfterEach
    void nothingRegistered() {
        assertEquals(0, RseqRegistry.registeredCount());
    }

    @Test
    void currentReturnsTheSameHandleOnEveryCallOfAThread() {
        Features.assumeRseq();
        assertSame(Rseq.current().orElseThrow(), Rseq.current().orElseThrow());
    }

    @Test
    void eachOfTwiceTheCpuCountThreadsReadsItsOwnCpuId() throws Exception {
        Features.assumeRseq();
        int n = 2 * ThreadCalls.onlineCpus();
        CyclicBarrier start = new CyclicBarrier(n);
        Set<Long> addresses = ConcurrentHashMap.newKeySet();
        List<AtomicReference<String>> failures = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            AtomicReference<String> failure = new AtomicReference<>();
            failures.add(failure);
            threads.add(Thread.ofPlatform().name("own-cpu-" + i).start(() -> {
                try {
                    RseqArea area = Rseq.current().orElseThrow();
                    long expected = LoaderCalls.threadPointer() + Rseq.glibcOffset().orElseThrow();
                    if (area.address() != expected || !addresses.add(area.address())) {
                        failure.set("area 0x" + Long.toHexString(area.address()) + " is not this thread's own");
                        return;
                    }
                    start.await(30, TimeUnit.SECONDS);
                    int compared = 0;
                    int mismatched = 0;
                    for (int k = 0; k < 20_000 && compared < 200; k++) {
                        int before = area.cpuId();
                        int kernel = ThreadCalls.getcpu().cpu();
                        int after = area.cpuId();
                        if (before == after) {
                            compared++;
                            if (kernel != before) {
                                mismatched++;
                            }
                        }
                        if (k % 16 == 0) {
                            Thread.yield();
                        }
                    }
                    // Another thread's cpu_id would disagree with this thread's getcpu about half the time; only a
                    // migration away and back within one system call can make this thread's own disagree.
                    if (compared < 50 || mismatched > compared / 50) {
                        failure.set(mismatched + " of " + compared + " reads disagree with the getcpu system call");
                    }
                } catch (Exception e) {
                    failure.set(e.toString());
                }
            }));
        }
        for (Thread t : threads) {
            t.join();
        }
        for (int i = 0; i < n; i++) {
            assertEquals(null, failures.get(i).get(), "thread " + i);
        }
        assertEquals(n, addresses.size());
    }

    @Test
    void staticCpuIdEqualsTheHandlesReadBackToBack() {
        Features.assumeRseq();
        RseqReadTest.assertAgreesBetweenTwoReads(Rseq::cpuId, 1000, 20,
                "Rseq.cpuId() and the handle disagree without a migration");
    }

    @Test
    void handleRefusesReadsOnAnotherThread() throws Exception {
        WrongThreadException e = handleReadRefusedOn(Thread.ofPlatform());
        assertTrue(e.getMessage().contains("belongs to thread '" + Thread.currentThread().getName() + "'"), e.getMessage());
    }

    /** Reads this thread's handle on a thread of the builder's kind, which must be refused. */
    static WrongThreadException handleReadRefusedOn(Thread.Builder builder) throws InterruptedException {
        Features.assumeRseq();
        RseqArea mine = Rseq.current().orElseThrow();
        Throwable thrown = Threads.thrownOn(builder, mine::cpuId);
        assertTrue(thrown instanceof WrongThreadException, String.valueOf(thrown));
        return (WrongThreadException) thrown;
    }

    @Test
    void mmCidRawIsMinusOneWhereTheRegistrationDoesNotCoverIt() {
        Features.assumeRseq();
        RseqArea area = Rseq.current().orElseThrow();
        if (area.coversMmCid()) {
            assertTrue(area.mmCidRaw() >= 0);
            assertEquals(area.mmCid().orElseThrow(), area.mmCidRaw());
        } else {
            assertEquals(-1, area.mmCidRaw());
            assertTrue(area.mmCid().isEmpty());
        }
    }

    @Test
    void staticMmCidRefusesGlibcsUncoveredAreaAndSaysWhy() {
        Features.assumeRseq();
        RseqArea area = Rseq.current().orElseThrow();
        if (area.coversMmCid()) {
            assertEquals(area.mmCidRaw(), Rseq.mmCid());
        } else {
            IllegalStateException e = assertThrows(IllegalStateException.class, Rseq::mmCid);
            assertTrue(e.getMessage().startsWith("mm_cid is not covered: glibc registered 20 usable bytes"), e.getMessage());
        }
    }
}
