package dev.pkrseq.lab.rseq;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Test;

/** The tracer of {@code rseq.glibc-area-under-key}, on any x86_64 machine: it names the signal that kills a child. */
class RseqTracedChildTest {
    @Test
    void theTracerNamesTheSignalAChildThreadDiesOfAndLetsItDie() {
        Features.assumeX86_64();
        RseqUnderKey.ChildOutcome o = RseqUnderKey.runTraced("selfsegv");
        assertFalse(o.survived(), o.toString());
        assertTrue(o.observed().matches("thread \\d+ got SIGSEGV si_code -6 \\(SI_TKILL\\), si_addr 0x[0-9a-f]+; the"
                + " process was killed \\(exit \\d+\\)"), o.toString());
    }
}
