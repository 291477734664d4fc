package dev.pkrseq.rseq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pkrseq.VirtualThreadException;
import java.util.concurrent.atomic.AtomicReference;

import dev.pkrseq.sys.ThreadCalls;
import dev.pkrseq.testing.Features;
import dev.pkrseq.testing.Threads;
import org.junit.jupiter.api.Test;

/**
 * Virtual threads: handles are refused (the carrier can change at every blocking call), while
 * {@link Rseq#cpuId()} resolves the carrier's area on each call.
 */
class RseqVirtualThreadTest {

    @Test
    void currentOnAVirtualThreadIsRefusedWithTheReason() throws Exception {
        Throwable e = Threads.thrownOn(Thread.ofVirtual(), Rseq::current);
        assertTrue(e instanceof VirtualThreadException, String.valueOf(e));
        assertTrue(e.getMessage().contains("carrier can change"), e.getMessage());
        assertTrue(e.getMessage().contains("Rseq.cpuId()"), e.getMessage());
    }

    @Test
    void registerOnAVirtualThreadIsRefused() throws Exception {
        Throwable e = Threads.thrownOn(Thread.ofVirtual(), Rseq::register);
        assertTrue(e instanceof VirtualThreadException, String.valueOf(e));
        assertEquals(0, RseqRegistry.registeredCount());
    }

    @Test
    void platformThreadsHandleReadOnAVirtualThreadIsRefused() throws Exception {
        WrongThreadException e = RseqCpuIdTest.handleReadRefusedOn(Thread.ofVirtual());
        assertTrue(e.getMessage().contains("virtual thread"), e.getMessage());
    }

    @Test
    void staticCpuIdOnAVirtualThreadFollowsTheCarrierAcrossYields() throws Exception {
        Features.assumeRseq();
        AtomicReference<String> failure = new AtomicReference<>();
        int[] counts = new int[2];
        Thread.ofVirtual().start(() -> {
            for (int i = 0; i < 5000 && counts[0] < 300; i++) {
                int a = Rseq.cpuId();
                int kernel = ThreadCalls.getcpu().cpu();
                int glibc = ThreadCalls.schedGetcpu();
                int c = Rseq.cpuId();
                if (a == c) {
                    counts[0]++;
                    if (kernel != a || glibc != a) {
                        counts[1]++;
                    }
                }
                // May move the virtual thread to another carrier: a cached area would then go stale.
                Thread.yield();
            }
            if (counts[0] < 50 || counts[1] > counts[0] / 50) {
                failure.set(counts[1] + " of " + counts[0] + " reads disagree with getcpu");
            }
        }).join();
        assertEquals(null, failure.get());
    }

    @Test
    void ownerOnAVirtualThreadAnswersForItsCarrier() throws Exception {
        Features.assumeRseq();
        AtomicReference<Owner> owner = new AtomicReference<>();
        Thread.ofVirtual().start(() -> owner.set(Rseq.owner())).join();
        assertEquals(Owner.GLIBC, owner.get());
    }
}
