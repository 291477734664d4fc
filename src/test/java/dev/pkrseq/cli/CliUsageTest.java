package dev.pkrseq.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pkrseq.rseq.Rseq;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** Usage errors and notes that help: what was wrong, and what would be right. */
class CliUsageTest {
    @Test
    void onlyThatMatchesNoExperimentExitsTwoAndListsThePrefixes() {
        ProbeCommandTest.Run r = new ProbeCommandTest.Run("probe", "--only", "nothing.");
        assertEquals(Main.EXIT_USAGE, r.status);
        assertEquals("", r.out);
        assertTrue(r.err.startsWith("pkrseq: --only nothing. matches no experiment; the ids start with pkey., rseq., tls."),
                r.err);
    }

    @Test
    void onlyWithOneMistypedPrefixAmongGoodOnesExitsTwo() {
        ProbeCommandTest.Run r = new ProbeCommandTest.Run("probe", "--only", "rseq.,pkye.");
        assertEquals(Main.EXIT_USAGE, r.status);
        assertTrue(r.err.startsWith("pkrseq: --only pkye. matches no experiment"), r.err);
    }

    @Test
    void registerBesideGlibcSaysItDidNotRegisterAndWhy() {
        Features.assumeRseq();
        Assumptions.assumeTrue(Rseq.glibcSize() > 0, "glibc registers no rseq here");
        ProbeCommandTest.Run r = new ProbeCommandTest.Run("rseq", "--register");
        assertEquals(0, r.status, r.err);
        assertTrue(r.err.startsWith("pkrseq: rseq: --register did not register: glibc registered this thread already"),
                r.err);
        assertTrue(r.err.contains("EINVAL") && r.err.contains("GLIBC_TUNABLES=glibc.pthread.rseq=0"), r.err);
    }
}
