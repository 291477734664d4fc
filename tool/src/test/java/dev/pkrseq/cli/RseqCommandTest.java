package dev.pkrseq.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pkrseq.lab.ChildJvm;
import dev.pkrseq.lab.rseq.RseqExperiments;
import dev.pkrseq.rseq.Rseq;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Test;

/** {@code pkrseq rseq}: owner, sizes, the thread's fields and the pool, as text and JSON. */
class RseqCommandTest {

    @Test
    void rseqJsonHasEveryKeyWithGlibcAsOwner() throws Exception {
        Features.assumeRseq();
        ProbeCommandTest.Run r = new ProbeCommandTest.Run("rseq", "--json");
        assertEquals(0, r.status, r.err);
        JsonNode j = new ObjectMapper().readTree(r.out);
        assertEquals("glibc", j.get("owner").asText());
        assertTrue(j.get("kernelSupportsRseq").asBoolean());
        for (String k : List.of("offset", "size")) {
            assertTrue(j.get(k).isNumber(), k + " in " + j);
        }
        for (String k : List.of("featureSize", "align")) {
            // AT_RSEQ_FEATURE_SIZE and AT_RSEQ_ALIGN exist from Linux 6.3; before that they are null, not 0.
            assertTrue(Rseq.featureSize().isPresent() ? j.get(k).isNumber() : j.get(k).isNull(), k + " in " + j);
        }
        assertEquals("0x53053053", j.get("signature").asText());
        JsonNode t = j.get("thread");
        assertTrue(t.get("address").asText().matches("0x[0-9a-f]+"));
        assertTrue(t.get("cpuId").asInt() >= 0);
        assertTrue(t.get("mmCid").isNull(), "glibc's 20-byte area does not cover mm_cid: " + t);
        assertTrue(t.get("nodeId").isNull());
        assertTrue(t.get("reason").asText().contains("not covered"));
        JsonNode pool = j.get("pool");
        assertEquals(32, pool.get("areaLength").asInt());
        assertEquals(0, pool.get("registered").asInt());
        assertTrue(pool.get("inUse").isArray());
    }

    @Test
    void rseqTextShowsEverySection() {
        Features.assumeRseq();
        ProbeCommandTest.Run r = new ProbeCommandTest.Run("rseq");
        assertEquals(0, r.status, r.err);
        for (String s : List.of("Registration\n", "This thread (", "pkrseq's own registration pool\n", "  owner ",
                "  cpu_id ", "  mm_cid ", "none: not covered")) {
            assertTrue(r.out.contains(s), "missing '" + s + "' in\n" + r.out);
        }
        assertEquals("", r.err);
    }

    @Test
    void rseqRegisterBesideGlibcChangesNothing() throws Exception {
        Features.assumeRseq();
        ProbeCommandTest.Run r = new ProbeCommandTest.Run("rseq", "--json", "--register");
        assertEquals(0, r.status, r.err);
        JsonNode j = new ObjectMapper().readTree(r.out);
        assertEquals("glibc", j.get("owner").asText());
        assertFalse(j.get("thread").get("registeredForReport").asBoolean());
    }

    @Test
    void rseqRegisterWithoutGlibcShowsPkrseqsAreaWithMmCidAndItsPoolEntry() throws Exception {
        Features.assumeRseq();
        Features.assumeMmCid();
        ChildJvm.Result r = ChildJvm.of(Main.class).env("GLIBC_TUNABLES", RseqExperiments.TUNABLE)
                .args("rseq", "--json", "--register").run();
        assertEquals(0, r.exitCode(), r.stderr());
        JsonNode j = new ObjectMapper().readTree(r.stdout());
        assertEquals("pkrseq", j.get("owner").asText());
        JsonNode t = j.get("thread");
        assertTrue(t.get("registeredForReport").asBoolean());
        assertEquals(28, t.get("coveredLength").asInt());
        assertTrue(t.get("mmCid").asInt() >= 0, t.toString());
        assertTrue(t.get("nodeId").asInt() >= 0, t.toString());
        JsonNode pool = j.get("pool");
        assertEquals(1, pool.get("registered").asInt());
        assertEquals(t.get("address").asText(), pool.get("inUse").get(0).get("address").asText());
        assertEquals("registered", pool.get("inUse").get(0).get("state").asText());
    }

    @Test
    void rseqWithoutGlibcAndWithoutRegisterSaysWhyInWords() {
        Features.assumeRseq();
        ChildJvm.Result r = ChildJvm.of(Main.class).env("GLIBC_TUNABLES", RseqExperiments.TUNABLE).args("rseq").run();
        assertEquals(0, r.exitCode(), r.stderr());
        assertTrue(r.stdout().contains("not registered: glibc did not register rseq (__rseq_size is 0"), r.stdout());
    }

    @Test
    void rseqHasHelp() {
        ProbeCommandTest.Run r = new ProbeCommandTest.Run("rseq", "--help");
        assertEquals(0, r.status);
        assertTrue(r.out.contains("--register"));
    }
}
