package dev.pkrseq.observe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.util.List;

import dev.pkrseq.testing.Features;
import dev.pkrseq.tls.Tls;
import dev.pkrseq.tls.TlsLayout;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The TLS experiments, each one a test. The retag experiments run in child JVMs (a JVM whose TLS carries
 * a key can die of a signal), so they are safe here; the three that read one retag share one child.
 */
@Tag("pku")
class TlsExperimentsTest {
    private static final TlsExperiments.RetagRun RUN = new TlsExperiments.RetagRun();

    private static ExperimentResult expected(Experiment e, String id) {
        ExperimentResult r = Experiments.run(e);
        assertEquals(id, r.id());
        assertEquals(Outcome.AS_EXPECTED, r.outcome(), r.observed() + " / " + r.detail());
        return r;
    }

    @Test
    void staticBlocksLieInsideTheBoundsAndDynamicOnesOutside() {
        Features.assumeX86_64();
        ExperimentResult r = expected(new TlsExperiments.ModulesInsideBounds(), "tls.modules-inside-bounds");
        assertTrue(r.observed().contains("libc.so.6"), r.observed());
    }

    @Test
    void theLayoutExperimentJudgesAMapComputedAlreadyAsItJudgesAFreshOne() {
        Features.assumeX86_64();
        TlsLayout self = Tls.current();
        List<Experiment> given = TlsExperiments.layout(self);
        assertEquals(1, given.size());
        ExperimentResult r = expected(given.get(0), "tls.modules-inside-bounds");
        assertEquals(Experiments.run(TlsExperiments.layout().get(0)).observed(), r.observed());
        assertTrue(r.detail().contains(String.format("tp 0x%x", self.threadPointer())), r.detail());
    }

    @Test
    void retagPutsTheKeyOnExactlyTheComputedPagesAndRestorePutsItOnNone() {
        Features.assumePkeys();
        ExperimentResult r = expected(new TlsExperiments.RetagExact(RUN), "tls.retag-exact");
        assertTrue(r.observed().contains("nowhere else"), r.observed());
        assertTrue(r.observed().contains("mappings as before"), r.observed());
    }

    @Test
    void kernelAccessToATaggedTlsPageSucceedsForTheRetaggingThreadOnly() {
        Features.assumePkeys();
        ExperimentResult r = expected(new TlsExperiments.AccessWhileTagged(RUN), "tls.access-while-tagged");
        assertTrue(r.observed().contains("TCB page read ok, errno write ok"), r.observed());
        assertTrue(r.observed().endsWith("TCB page read EFAULT"), r.observed());
    }

    @Test
    void denyingTheKeyWhileItTagsTheThreadsTlsIsRefusedAndTheJvmCarriesOn() {
        Features.assumePkeys();
        ExperimentResult r = expected(new TlsExperiments.DenyRefused(RUN), "tls.deny-refused");
        assertTrue(r.detail().contains("would die on its next TLS access"), r.detail());
    }

    @Test
    void aSignalWhileTheTlsIsTaggedKillsTheJvmUnlessRetagBlocksIt() {
        Features.assumePkeys();
        ExperimentResult r = expected(new TlsExperiments.SignalWhileTagged(), "tls.signal-while-tagged");
        assertTrue(r.observed().startsWith("without blocking: killed by SIGSEGV"), r.observed());
        assertTrue(r.observed().contains("with blocking: survived"), r.observed());
    }

    @Test
    void anImplicitNullCheckWhileTheTlsIsTaggedKillsTheJvmDespiteTheBlocking() {
        Features.assumePkeys();
        ExperimentResult r = expected(new TlsExperiments.FaultWhileTagged(), "tls.fault-while-tagged");
        assertTrue(r.observed().startsWith("killed by SIGSEGV"), r.observed());
    }

    @Test
    void retagExperimentsSkipInWordsWithoutProtectionKeys() {
        assumeFalse(Features.pkeysWork(), "protection keys work here");
        for (Experiment e : TlsExperiments.all()) {
            if (e.id().equals("tls.modules-inside-bounds")) {
                continue;
            }
            ExperimentResult r = Experiments.run(e);
            assertEquals(Outcome.SKIPPED, r.outcome(), e.id());
            assertTrue(r.detail().startsWith("protection keys are not available: "), r.detail());
        }
    }

    @Test
    void probeRunsEveryTlsExperimentInOrder() {
        List<String> ids = Experiments.all().stream().map(Experiment::id).filter(i -> i.startsWith("tls.")).toList();
        assertEquals(List.of("tls.modules-inside-bounds", "tls.retag-exact", "tls.access-while-tagged", "tls.deny-refused",
                "tls.signal-while-tagged", "tls.fault-while-tagged"), ids);
    }
}
