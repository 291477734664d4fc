package dev.pkrseq.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;

import dev.pkrseq.lab.tls.TlsRetagProbe;
import dev.pkrseq.pkey.Hazard;
import dev.pkrseq.pkey.Pkeys;
import dev.pkrseq.pkey.ProtectionKey;
import dev.pkrseq.pkey.Rights;
import dev.pkrseq.VirtualThreadException;
import dev.pkrseq.sys.ThreadCalls;
import dev.pkrseq.testing.Features;
import dev.pkrseq.testing.Threads;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Retag and restore. The retag itself runs in a child JVM ({@link TlsRetagProbe}): a JVM whose TCB page
 * carries a key dies of a signal or an implicit null check, and this test JVM must live. The refusals run
 * here, because they happen before any page is tagged.
 */
@Tag("pku")
class TlsRetagTest {
    private static TlsRetagProbe.Report report;

    private static synchronized TlsRetagProbe.Report report() {
        if (report == null) {
            report = TlsRetagProbe.retag(Duration.ofSeconds(600));
        }
        return report;
    }

    @Test
    void retagAndRestoreLeaveSmapsAsTheyFoundIt() {
        Features.assumePkeys();
        TlsRetagProbe.Report r = report();
        assertTrue(r.smapsUnchanged(), r.smapsDifference());
        assertTrue(r.strayAfter().isEmpty(), r.strayAfter().toString());
        assertTrue(r.pages().stream().allMatch(p -> p.restore().equals("tagged") && p.keyAfter() == 0), r.pages().toString());
        assertEquals("none", r.left());
        assertEquals(15, r.allocatable());
    }

    @Test
    void retagTagsTheExactRangeThenTheDtvPageApart() {
        Features.assumePkeys();
        TlsRetagProbe.Report r = report();
        assertTrue(r.exact(), r.pages() + " stray " + r.strayWhileTagged());
        assertTrue(r.dtvPageApart(), "a java launcher's main thread has its DTV on the heap");
        // The DTV is a heap chunk of a few hundred bytes: one page, or two where it straddles a boundary (seen
        // once in the PKU guest).
        assertTrue(r.dtvPages().size() == 1 || r.dtvPages().size() == 2, r.pages().toString());
        assertEquals("dtv", r.pages().get(r.pages().size() - 1).role());
        assertTrue(r.pages().get(r.pages().size() - 1).holds().contains("DTV"), r.pages().toString());
        assertTrue(r.pages().stream().anyMatch(p -> p.holds().contains("TCB")), r.pages().toString());
        assertTrue(r.signalsBlocked());
    }

    @Test
    void denyingAKeyThatTagsTheThreadsTlsIsRefusedBecauseTheJvmWouldDie() {
        Features.assumePkeys();
        TlsRetagProbe.Report r = report();
        assertTrue(r.denyRefused());
        assertTrue(r.scopedDenyRefused());
        assertEquals("read-write", r.rightsAfterDeny());
        assertTrue(r.denyMessage().matches("refusing to set key \\d+ to no-access on thread 'main' \\(tid \\d+\\): the key tags"
                + " 0x[0-9a-f]+-0x[0-9a-f]+, part of this thread's TCB and static TLS \\[0x[0-9a-f]+-0x[0-9a-f]+\\), so the JVM"
                + " would die on its next TLS access .*"), r.denyMessage());
    }

    @Test
    void denyingAKeyThatTagsOnlyTheDtvPageIsRefusedToo() {
        Features.assumePkeys();
        TlsRetagProbe.Report r = report();
        assertEquals("refused", r.dtvOnlyDeny(), r.dtvOnlyMessage());
        assertTrue(r.dtvOnlyMessage().contains("part of this thread's DTV ["), r.dtvOnlyMessage());
        assertTrue(r.dtvOnlyMessage().contains("would die on its next TLS access"), r.dtvOnlyMessage());
    }

    @Test
    void retagWithKeyZeroIsRefused() {
        Features.assumeX86_64();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tls.retag(ProtectionKey.DEFAULT,
                Hazard.MAY_KILL_THIS_JVM, TlsRetag.Option.WITHOUT_DTV_PAGE));
        assertTrue(e.getMessage().startsWith("retagging TLS with key 0 changes nothing"), e.getMessage());
    }

    @Test
    void retagIsRefusedWhileTheThreadsRightsDenyTheKey() {
        Features.assumePkeys();
        try (ProtectionKey key = ProtectionKey.allocate(Rights.NO_ACCESS)) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> Tls.retag(key, Hazard.MAY_KILL_THIS_JVM, TlsRetag.Option.WITHOUT_DTV_PAGE));
            assertTrue(e.getMessage().contains("rights for it are no-access, so the JVM would die on its next TLS access"),
                    e.getMessage());
            assertTrue(key.mappings().isEmpty(), "nothing was tagged");
            assertFalse(TlsRetag.active().isPresent());
        }
    }

    @Test
    void retagWithAnotherThreadsMapIsRefused() throws Exception {
        Features.assumePkeys();
        TlsLayout other = Tls.onPlatformThread("retag-other");
        try (ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Tls.retag(key, other, Hazard.MAY_KILL_THIS_JVM, TlsRetag.Option.WITHOUT_DTV_PAGE));
            assertTrue(e.getMessage().contains("a thread can only retag its own TLS"), e.getMessage());
            assertTrue(key.mappings().isEmpty(), "nothing was tagged");
        }
    }

    @Test
    void retagOnAVirtualThreadIsRefused() throws Exception {
        Features.assumePkeys();
        try (ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE)) {
            Throwable thrown = Threads.thrownOn(Thread.ofVirtual(),
                    () -> Tls.retag(key, Hazard.MAY_KILL_THIS_JVM, TlsRetag.Option.WITHOUT_DTV_PAGE));
            assertTrue(thrown instanceof VirtualThreadException, String.valueOf(thrown));
            assertTrue(key.mappings().isEmpty(), "nothing was tagged");
        }
    }

    @Test
    void retagBlocksEveryAsynchronousSignalAndNoFaultSignal() {
        long mask = TlsRetag.ASYNC_SIGNALS;
        for (int sig : new int[] {ThreadCalls.SIGSEGV, ThreadCalls.SIGBUS, ThreadCalls.SIGILL, ThreadCalls.SIGFPE, ThreadCalls.SIGTRAP, ThreadCalls.SIGSYS}) {
            assertEquals(0, mask & (1L << (sig - 1)), "signal " + sig);
        }
        assertTrue((mask & (1L << (ThreadCalls.SIGUSR2 - 1))) != 0, "SIGUSR2, HotSpot's suspend/resume signal");
        assertTrue((mask & (1L << (27 - 1))) != 0, "SIGPROF, profilers' timer signal");
        assertTrue(Pkeys.taggedMappings().isEmpty());
    }
}
