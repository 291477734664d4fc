package dev.pkrseq.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pkrseq.lab.ChildJvm;
import dev.pkrseq.testing.Features;
import dev.pkrseq.testing.JvmNotes;
import org.junit.jupiter.api.Test;

/** The missing-feature path: a JVM where glibc did not register rseq reports it in words, not a stack trace. */
class ProbeWithoutRseqTest {

    @Test
    void probeUnderTunableOffReportsOwnerNoneAndNullFields() throws Exception {
        Features.assumeRseq();
        ChildJvm.Result r = ChildJvm.of(Main.class).env("GLIBC_TUNABLES", "glibc.pthread.rseq=0")
                .args("probe", "--json", "--no-experiments").run();
        assertEquals(0, r.exitCode(), r.stderr());
        assertEquals("", JvmNotes.withoutJvmNotes(r.stderr()));
        JsonNode rseq = new ObjectMapper().readTree(r.stdout()).get("rseq");
        assertEquals("none", rseq.get("owner").asText());
        assertEquals(0, rseq.get("size").asInt());
        assertTrue(rseq.get("cpuId").isNull());
        assertTrue(rseq.get("mmCid").isNull());
        assertTrue(rseq.get("reason").asText().contains("__rseq_size is 0"), rseq.toString());
    }

    @Test
    void probeTextUnderTunableOffSaysSoInWords() {
        Features.assumeRseq();
        ChildJvm.Result r = ChildJvm.of(Main.class).env("GLIBC_TUNABLES", "glibc.pthread.rseq=0")
                .args("probe", "--no-experiments").run();
        assertEquals(0, r.exitCode(), r.stderr());
        assertTrue(r.stdout().contains("glibc did not register rseq"), r.stdout());
        assertFalse(r.stdout().contains("Exception"), r.stdout());
    }
}
