package dev.pkrseq.observe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Test;

/** The TLS experiments, each one a test. */
class TlsExperimentsTest {

    @Test
    void staticBlocksLieInsideTheBoundsAndDynamicOnesOutside() {
        Features.assumeX86_64();
        ExperimentResult r = Experiments.run(new TlsExperiments.ModulesInsideBounds());
        assertEquals("tls.modules-inside-bounds", r.id());
        assertEquals(Outcome.AS_EXPECTED, r.outcome(), r.observed() + " / " + r.detail());
        assertTrue(r.observed().contains("libc.so.6"), r.observed());
    }

    @Test
    void probeRunsTheTlsExperiment() {
        List<String> ids = Experiments.all().stream().map(Experiment::id).toList();
        assertTrue(ids.contains("tls.modules-inside-bounds"), ids.toString());
    }
}
