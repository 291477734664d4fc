package dev.pkrseq.observe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.stream.Stream;

import dev.pkrseq.pkey.PkeysUnavailableException;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The real fault, taken by a child JVM; this JVM must live and keep no file. */
@Tag("pku")
class PkeyFaultProbeTest {

    @Test
    void childDiesBySigsegvWithSiCodeFourAtThePage() throws IOException {
        Features.assumePkeys();
        long before = leftovers();
        PkeyFaultProbe.Result r = PkeyFaultProbe.run(PkeyExperiments.CHILD_TIMEOUT);
        assertFalse(r.survived(), r.describe());
        assertEquals("SIGSEGV", r.signal(), r.describe());
        assertEquals(PkeyFaultProbe.SEGV_PKUERR, r.siCode(), r.describe());
        assertEquals("SEGV_PKUERR", r.siCodeName(), r.describe());
        assertTrue(r.crashLine().contains("si_code: 4 ("), r.crashLine());
        assertNotNull(r.page());
        assertEquals(r.page(), r.siAddr(), r.describe());
        assertTrue(r.addressMatches() && r.pkuFault());
        assertTrue(r.exitCode() != 0, r.describe());
        assertTrue(r.key() >= 1 && r.key() <= 15);
        assertEquals(before, leftovers(), "the child's crash log directory was not removed");
    }

    @Test
    void withoutProtectionKeysTheProbeSaysSoInsteadOfStartingAChild() {
        assumeFalse(Features.pkeysWork(), "protection keys work here");
        PkeysUnavailableException e = assertThrows(PkeysUnavailableException.class,
                () -> PkeyFaultProbe.run(Duration.ofSeconds(30)));
        assertTrue(e.getMessage().startsWith("cannot take a protection-key fault: "), e.getMessage());
    }

    @Test
    void resultDescribesASurvivorAsSuch() {
        PkeyFaultProbe.Result r = new PkeyFaultProbe.Result(0, null, 0x1000L, 1, null, null, null, null, true, null,
                Duration.ZERO);
        assertFalse(r.pkuFault());
        assertEquals("the child read the page and survived (exit 0)", r.describe());
    }

    private static long leftovers() throws IOException {
        try (Stream<Path> s = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            return s.filter(p -> p.getFileName().toString().startsWith("pkrseq-fault-")).count();
        }
    }
}
