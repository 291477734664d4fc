package dev.pkrseq.lab.rseq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pkrseq.lab.Experiment;
import dev.pkrseq.lab.ExperimentResult;
import dev.pkrseq.lab.Experiments;
import dev.pkrseq.lab.Outcome;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * rseq under a protection key, in child JVMs: glibc's rseq area under a key the thread may not write kills
 * the process; pkrseq's own registration in an untagged page survives the same denial; the library refuses
 * the fatal denial by name.
 */
@Tag("pku")
class RseqUnderKeyTest {
    private static ExperimentResult run(Experiment e) {
        Features.assumePkeys();
        Features.assumeRseq();
        return Experiments.run(e);
    }

    @Test
    void theProcessDiesBySigsegvWhenGlibcsRseqPageIsUnderAKeyItsThreadMayNotWrite() {
        ExperimentResult r = run(new RseqUnderKey.GlibcAreaUnderKey());
        assertEquals(Outcome.AS_EXPECTED, r.outcome(), r.observed() + "; " + r.detail());
    }

    @Test
    void aThreadWhoseOwnRegistrationLiesInAnUntaggedPageSurvivesTheSameDenial() {
        ExperimentResult r = run(new RseqUnderKey.OwnAreaUntagged());
        assertEquals(Outcome.AS_EXPECTED, r.outcome(), r.observed() + "; " + r.detail());
        assertTrue(r.observed().startsWith("survived"), r.observed());
    }

    @Test
    void denyingWriteToAKeyWhoseRetagCoversTheRseqAreaIsRefusedNamingIt() {
        ExperimentResult r = run(new RseqUnderKey.RetagDenyRefused());
        assertEquals(Outcome.AS_EXPECTED, r.outcome(), r.observed() + "; " + r.detail());
        assertTrue(r.detail().matches("refusing to set key \\d+ to no-(access|write) on thread 'main' \\(tid \\d+\\): the key tags"
                + " 0x[0-9a-f]+-0x[0-9a-f]+, part of this thread's TCB and static TLS \\[0x[0-9a-f]+-0x[0-9a-f]+\\), so the"
                + " JVM would die on its next TLS access .*; and it holds the rseq area \\(glibc's struct rseq at"
                + " 0x[0-9a-f]+\\), which the kernel writes with this thread's rights .* SIGSEGV at the next one"), r.detail());
    }
}
