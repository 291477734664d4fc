package dev.pkrseq.rseq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import dev.pkrseq.lab.ChildJvm;
import dev.pkrseq.lab.rseq.RseqExperiments;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The primitives' area variants, on pkrseq's own registration in a child JVM where glibc registers nothing:
 * indexed by cpu_id, and by mm_cid (which glibc's 20-byte registration does not cover here).
 */
class PerCpuOpsOwnRegistrationTest {
    private static ChildJvm.Result child;

    @BeforeAll
    static void runChild() {
        Features.assumeRseq();
        child = ChildJvm.of(PerCpuOpsOwnChild.class).env("GLIBC_TUNABLES", RseqExperiments.tunablesWithGlibcRseqOff()).run();
        assertEquals(0, child.exitCode(), child.stderr() + child.stdout());
        assertEquals("none", child.value("ownerBefore="));
        assertEquals("true", child.value("unregistered="));
    }

    static final List<String> PRIMITIVES = List.of("compareAndStore", "add", "takeAndFollow", "addIndirect",
            "compareBothAndStore", "compareStoreAndStore", "copies", "addAll", "bulkStack");

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "cid"})
    void everyPrimitiveWorksOnPkrseqsOwnAreaPassedIn(String index) {
        if (index.equals("cid")) {
            Features.assumeMmCid();
        }
        assertEquals("pkrseq", child.value(index + ".owner="), child.stdout());
        for (String p : PRIMITIVES) {
            assertEquals("ok", child.value(index + "." + p + "="), p + ": " + child.stdout());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "cid"})
    void virtualThreadIsRefusedUnderPkrseqsOwnRegistration(String index) {
        if (index.equals("cid")) {
            Features.assumeMmCid();
        }
        String v = child.value(index + ".virtual=");
        assertTrue(v.startsWith("refused: ") && v.contains("virtual thread") && v.contains("platform thread"), v);
    }
}
