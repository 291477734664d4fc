package dev.pkrseq.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeType;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** {@code pkrseq probe}: the report's shape, and the CLI's handling of usage errors. */
@Tag("pku")
class ProbeCommandTest {

    static final class Run {
        final int status;
        final String out;
        final String err;

        Run(String... args) {
            StringWriter o = new StringWriter();
            StringWriter e = new StringWriter();
            status = Main.run(new PrintWriter(o, true), new PrintWriter(e, true), args);
            out = o.toString();
            err = e.toString();
        }
    }

    @Test
    void probeJsonHasEveryKeyWithItsType() throws Exception {
        Run r = new Run("probe", "--json", "--no-experiments");
        assertEquals(0, r.status, r.err);
        JsonNode j = new ObjectMapper().readTree(r.out);
        expect(j, Map.of("platform", JsonNodeType.OBJECT, "pkeys", JsonNodeType.OBJECT, "rseq", JsonNodeType.OBJECT,
                "thread", JsonNodeType.OBJECT, "experiments", JsonNodeType.ARRAY));
        expect(j.get("platform"), Map.of("arch", JsonNodeType.STRING, "kernel", JsonNodeType.STRING,
                "glibc", JsonNodeType.STRING, "pageSize", JsonNodeType.NUMBER, "cpus", JsonNodeType.NUMBER,
                "jdk", JsonNodeType.STRING));
        expect(j.get("pkeys"), Map.of("cpuFlag", JsonNodeType.BOOLEAN, "osEnabled", JsonNodeType.BOOLEAN,
                "supported", JsonNodeType.BOOLEAN, "allocatable", JsonNodeType.NUMBER));
        nullable(j.get("pkeys"), "pkru", JsonNodeType.STRING);
        expect(j.get("rseq"), Map.of("owner", JsonNodeType.STRING));
        for (String k : List.of("offset", "size", "featureSize", "align", "cpuId", "cpuIdStart", "nodeId", "mmCid")) {
            nullable(j.get("rseq"), k, JsonNodeType.NUMBER);
        }
        expect(j.get("thread"), Map.of("name", JsonNodeType.STRING, "tid", JsonNodeType.NUMBER,
                "threadPointer", JsonNodeType.STRING));
        assertEquals(4096, j.get("platform").get("pageSize").asInt());
        assertTrue(j.get("thread").get("threadPointer").asText().matches("0x[0-9a-f]+"));
        assertTrue(List.of("glibc", "pkrseq", "none").contains(j.get("rseq").get("owner").asText()));
        if (j.get("pkeys").get("supported").asBoolean()) {
            assertTrue(j.get("pkeys").get("pkru").asText().matches("0x[0-9a-f]{8}"));
        }
    }

    @Test
    void probeTextReportsEverySection() {
        Run r = new Run("probe", "--no-experiments");
        assertEquals(0, r.status, r.err);
        for (String section : List.of("Platform", "Protection keys", "rseq (this thread)", "Thread")) {
            assertTrue(r.out.contains(section + "\n"), "missing section " + section + " in\n" + r.out);
        }
        assertEquals("", r.err);
    }

    @Test
    void unknownCommandExitsTwoWithOneLineAndNoStackTrace() {
        Run r = new Run("frobnicate");
        assertEquals(2, r.status);
        assertEquals(1, r.err.lines().count(), r.err);
        assertTrue(r.err.startsWith("pkrseq: "), r.err);
    }

    @Test
    void unknownOptionExitsTwoWithOneLine() {
        Run r = new Run("probe", "--frobnicate");
        assertEquals(2, r.status);
        assertEquals(1, r.err.lines().count(), r.err);
        assertTrue(r.err.contains("--frobnicate"), r.err);
    }

    @Test
    void missingCommandExitsTwoWithOneLine() {
        Run r = new Run();
        assertEquals(2, r.status);
        assertEquals(1, r.err.lines().count(), r.err);
        assertTrue(r.err.contains("probe"), r.err);
    }

    @Test
    void everyCommandHasHelp() {
        Run top = new Run("--help");
        assertEquals(0, top.status);
        assertTrue(top.out.contains("probe"));
        Run probe = new Run("probe", "--help");
        assertEquals(0, probe.status);
        assertTrue(probe.out.contains("--json"));
    }

    private static void expect(JsonNode node, Map<String, JsonNodeType> keys) {
        keys.forEach((k, type) -> {
            assertTrue(node.has(k), "missing key " + k + " in " + node);
            assertEquals(type, node.get(k).getNodeType(), k + " in " + node);
        });
    }

    private static void nullable(JsonNode node, String key, JsonNodeType type) {
        assertTrue(node.has(key), "missing key " + key + " in " + node);
        JsonNodeType t = node.get(key).getNodeType();
        assertTrue(t == type || t == JsonNodeType.NULL, key + " is " + t + " in " + node);
    }
}
