package dev.pkrseq.lab.rseq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pkrseq.lab.ChildJvm;
import dev.pkrseq.lab.Experiment;
import dev.pkrseq.lab.ExperimentResult;
import dev.pkrseq.lab.Experiments;
import dev.pkrseq.lab.Outcome;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import dev.pkrseq.rseq.RseqRegistry;
import dev.pkrseq.sys.ThreadCalls;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The rseq experiments of {@code pkrseq probe}: their ids and order, and each one's outcome on this machine. */
class RseqExperimentsTest {
    private static final List<String> IDS = List.of("rseq.cpu-matches-getcpu", "rseq.follows-affinity",
            "rseq.register-beside-glibc-einval", "rseq.same-area-ebusy", "rseq.wrong-signature-eperm", "rseq.unregister",
            "rseq.own-registration", "rseq.mm-cid-dense");
    private static final Map<String, ExperimentResult> RESULTS = new LinkedHashMap<>();
    private static BitSet affinityBefore;
    private static BitSet affinityAfter;

    @BeforeAll
    static void runAll() {
        Features.assumeRseq();
        affinityBefore = ThreadCalls.schedGetaffinity(0);
        for (Experiment e : RseqExperiments.all()) {
            RESULTS.put(e.id(), Experiments.run(e));
        }
        affinityAfter = ThreadCalls.schedGetaffinity(0);
    }

    @Test
    void idsAreTheIssuesInReportOrder() {
        assertEquals(IDS, RseqExperiments.all().stream().map(Experiment::id).toList());
    }

    @Test
    void probeListsTheRseqExperiments() {
        // The rseq-under-a-key experiments (RseqUnderKeyTest) follow these, in their own order.
        List<String> underKey = RseqUnderKey.all().stream().map(Experiment::id).toList();
        List<String> all = Experiments.all().stream().map(Experiment::id).filter(id -> id.startsWith("rseq.")).toList();
        assertEquals(IDS, all.stream().filter(id -> !underKey.contains(id)).toList());
        assertEquals(underKey, all.subList(IDS.size(), all.size()));
    }

    @Test
    void cpuMatchesGetcpuIsAsExpected() {
        assertAsExpected("rseq.cpu-matches-getcpu");
    }

    @Test
    void followsAffinityIsAsExpectedAndRestoresTheMask() {
        assertAsExpected("rseq.follows-affinity");
        assertEquals(affinityBefore, affinityAfter);
    }

    @Test
    void registerBesideGlibcEinvalIsAsExpected() {
        assertAsExpected("rseq.register-beside-glibc-einval");
    }

    @Test
    void sameAreaEbusyIsAsExpected() {
        assertAsExpected("rseq.same-area-ebusy");
    }

    @Test
    void wrongSignatureEpermIsAsExpected() {
        assertAsExpected("rseq.wrong-signature-eperm");
    }

    @Test
    void unregisterIsAsExpected() {
        assertAsExpected("rseq.unregister");
    }

    @Test
    void ownRegistrationIsAsExpected() {
        assertAsExpected("rseq.own-registration");
    }

    @Test
    void mmCidDenseIsAsExpected() {
        if (Features.kernelHasMmCid()) {
            assertAsExpected("rseq.mm-cid-dense");
        } else {
            ExperimentResult r = RESULTS.get("rseq.mm-cid-dense");
            assertEquals(Outcome.SKIPPED, r.outcome(), r.observed());
            assertTrue(r.detail().contains("no mm_cid before Linux 6.3"), r.detail());
        }
    }

    @Test
    void experimentsLeaveNothingRegistered() {
        assertEquals(0, RseqRegistry.registeredCount());
    }

    @Test
    void childJvmThatCannotStartSkipsTheChildExperimentsInWords() {
        ChildJvm.Result crashed = new ChildJvm.Result(134, "", "# A fatal error has been detected", java.time.Duration.ZERO);
        RseqScenarios.Finding f = RseqExperiments.parse(crashed, "same-area-ebusy");
        assertEquals(Outcome.UNEXPECTED, f.outcome());
        assertEquals("the child JVM reported nothing for same-area-ebusy (exit 134)", f.observed());
    }

    private static void assertAsExpected(String id) {
        ExperimentResult r = RESULTS.get(id);
        assertEquals(Outcome.AS_EXPECTED, r.outcome(), r.observed() + " / " + r.detail());
    }
}
