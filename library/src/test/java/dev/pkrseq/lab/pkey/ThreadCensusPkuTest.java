package dev.pkrseq.lab.pkey;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pkrseq.lab.ExperimentResult;
import dev.pkrseq.lab.Experiments;
import dev.pkrseq.lab.Outcome;
import dev.pkrseq.pkey.Pkru;
import dev.pkrseq.pkey.ProtectionKey;
import dev.pkrseq.pkey.Rights;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The census where protection keys work: every thread's PKRU, read from outside, as the thread has it. */
@Tag("pku")
class ThreadCensusPkuTest {
    @Test
    void theCensusReadsTheCallersPkruAsTheCallerReadsItself() {
        Features.assumePkeys();
        try (ProtectionKey key = ProtectionKey.allocate(Rights.NO_WRITE)) {
            ThreadCensus.Census c = ThreadCensus.take();
            assertTrue(c.supported(), c.reason());
            ThreadCensus.ThreadRights self = c.threads().stream().filter(t -> t.tid() == c.callerTid()).findFirst()
                    .orElseThrow();
            assertEquals(c.callerPkru(), self.pkru());
            assertEquals(String.format("0x%08x", Pkru.current().value()), self.pkru());
            assertEquals(Rights.NO_WRITE, self.rights().get(key.number()));
            assertTrue(c.keys().contains(key.number()));
        }
    }

    @Test
    void gcAndJitThreadsHaveNoAccessToAKeyAllocatedAfterThem() {
        Features.assumePkeys();
        ExperimentResult r = Experiments.run(new JvmThreadsExperiment());
        assertEquals(Outcome.AS_EXPECTED, r.outcome(), r.observed() + "; " + r.detail());
    }

    @Test
    void aThreadStartedAfterTheKeyInheritsItsCreatorsRights() throws Exception {
        Features.assumePkeys();
        try (ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE)) {
            Object lock = new Object();
            Thread child = Thread.ofPlatform().name("pkrseq-late").start(() -> {
                synchronized (lock) {
                    try {
                        lock.wait(60_000);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            });
            try {
                ThreadCensus.Census c = ThreadCensus.take();
                ThreadCensus.ThreadRights late = c.threads().stream().filter(t -> t.name().equals("pkrseq-late"))
                        .findFirst().orElseThrow();
                assertEquals(Rights.READ_WRITE, late.rights().get(key.number()), late.toString());
            } finally {
                child.interrupt();
                child.join();
            }
        }
    }
}
