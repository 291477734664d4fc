package dev.pkrseq.lab.pkey;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import dev.pkrseq.lab.Experiment;
import dev.pkrseq.lab.ExperimentResult;
import dev.pkrseq.lab.Experiments;
import dev.pkrseq.lab.Outcome;
import dev.pkrseq.KeyInUseException;
import java.util.List;

import dev.pkrseq.pkey.Pkeys;
import dev.pkrseq.testing.Features;
import dev.pkrseq.testing.PkeyState;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Each protection-key experiment of {@code pkrseq probe}, one test per experiment named after its id:
 * it must observe what the kernel documents, and leave no key, page or PKRU change behind.
 */
@Tag("pku")
class PkeyExperimentsTest {

    static ExperimentResult runClean(String id) {
        Features.assumePkeys();
        Experiment e = PkeyExperiments.all().stream().filter(x -> x.id().equals(id)).findFirst().orElseThrow();
        PkeyState before = PkeyState.now();
        ExperimentResult r = Experiments.run(e);
        assertEquals(Outcome.AS_EXPECTED, r.outcome(), id + ": observed " + r.observed() + "; " + r.detail());
        before.assertUnchangedBy(id);
        return r;
    }

    @Test
    void experimentIdsAreTheIssuesInReportOrder() {
        assertEquals(List.of("pkey.alloc-exhaust", "pkey.smaps-shows-tag", "pkey.kernel-read-denied",
                "pkey.kernel-write-denied", "pkey.rights-restored", "pkey.hole-enomem", "pkey.new-thread-inherits",
                "pkey.free-then-reuse", "pkey.mprotect-keeps-key", "pkey.exec-only-hidden-key",
                "pkey.user-fault-in-child"), PkeyExperiments.all().stream().map(Experiment::id).toList());
        assertTrue(Experiments.all().stream().map(Experiment::id).toList()
                .containsAll(PkeyExperiments.all().stream().map(Experiment::id).toList()), "registered in Experiments.all()");
    }

    @Test
    void withoutProtectionKeysEveryExperimentSkipsWithTheReasonInWords() {
        assumeFalse(Features.pkeysWork(), "protection keys work here");
        for (Experiment e : PkeyExperiments.all()) {
            ExperimentResult r = Experiments.run(e);
            assertEquals(Outcome.SKIPPED, r.outcome(), e.id());
            assertEquals("not run", r.observed());
            assertEquals("protection keys are not available: " + Pkeys.unavailableReason().orElseThrow(), r.detail());
        }
    }

    @Test
    void allocExhaust() {
        ExperimentResult r = runClean("pkey.alloc-exhaust");
        assertTrue(r.observed().startsWith("keys 1-"), r.observed());
        assertTrue(r.observed().contains("then ENOSPC"), r.observed());
    }

    @Test
    void smapsShowsTag() {
        assertTrue(runClean("pkey.smaps-shows-tag").observed().contains(" in 3 mappings"));
    }

    @Test
    void kernelReadDenied() {
        assertTrue(runClean("pkey.kernel-read-denied").observed().startsWith("kernel read EFAULT"));
    }

    @Test
    void kernelWriteDenied() {
        assertEquals("kernel write EFAULT, kernel read ok", runClean("pkey.kernel-write-denied").observed());
    }

    @Test
    void rightsRestored() {
        assertEquals("rights read-write, kernel read ok, kernel write ok", runClean("pkey.rights-restored").observed());
    }

    @Test
    void holeEnomem() {
        assertTrue(runClean("pkey.hole-enomem").observed().startsWith("one call: ENOMEM"));
    }

    @Test
    void newThreadInherits() {
        assertTrue(runClean("pkey.new-thread-inherits").observed().contains("later thread no-write"));
    }

    @Test
    void freeThenReuse() {
        ExperimentResult r = runClean("pkey.free-then-reuse");
        assertTrue(r.detail().endsWith("The guarded API refuses the same free: KeyInUseException."), r.detail());
    }

    @Test
    void mprotectKeepsKey() {
        assertTrue(runClean("pkey.mprotect-keeps-key").observed().startsWith("after mprotect(PROT_READ): r--p, key "));
    }

    @Test
    void execOnlyHiddenKey() {
        assertTrue(runClean("pkey.exec-only-hidden-key").observed().startsWith("allocatable "));
    }

    @Test
    void userFaultInChild() {
        String observed = runClean("pkey.user-fault-in-child").observed();
        assertTrue(observed.startsWith("SIGSEGV, si_code 4 (SEGV_PKUERR), si_addr 0x"), observed);
    }

    @Test
    void compactListsRuns() {
        assertEquals("1-3, 5, 7-8", PkeyExperiments.compact(List.of(1, 2, 3, 5, 7, 8)));
        assertEquals("none", PkeyExperiments.compact(List.of()));
    }
}
