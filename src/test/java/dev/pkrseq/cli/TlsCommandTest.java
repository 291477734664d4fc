package dev.pkrseq.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeType;
import dev.pkrseq.observe.ChildJvm;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** {@code pkrseq tls}: the report's shape, and what it shows about the JVM's threads. */
@Tag("pku")
class TlsCommandTest {
    private static final String HEX = "0x[0-9a-f]+";

    private static String[] run(String... args) {
        StringWriter o = new StringWriter();
        StringWriter e = new StringWriter();
        int status = Main.run(new PrintWriter(o, true), new PrintWriter(e, true), args);
        return new String[] {Integer.toString(status), o.toString(), e.toString()};
    }

    @Test
    void tlsJsonHasEveryKeyWithItsType() throws Exception {
        Features.assumeX86_64();
        String[] r = run("tls", "--json");
        assertEquals("0", r[0], r[2]);
        JsonNode j = new ObjectMapper().readTree(r[1]);
        checkMap(j);
        assertEquals(JsonNodeType.ARRAY, j.get("experiments").getNodeType());
        assertEquals("tls.modules-inside-bounds", j.get("experiments").get(0).get("id").asText());
    }

    @Test
    void retagDemoWithoutProtectionKeysSaysSoInWordsAndExitsZero() {
        Features.assumeX86_64();
        org.junit.jupiter.api.Assumptions.assumeFalse(Features.pkeysWork(), "protection keys work here");
        String[] r = run("tls", "--retag-demo");
        assertEquals("0", r[0], r[2]);
        assertTrue(r[1].contains("Not run: protection keys are not available: "), r[1]);
        assertFalse(r[1].contains("Exception") || r[2].contains("Exception"), r[1] + r[2]);
        assertTrue(r[2].isEmpty(), r[2]);
    }

    @Test
    void retagDemoJsonWithoutProtectionKeysSaysWhy() throws Exception {
        Features.assumeX86_64();
        org.junit.jupiter.api.Assumptions.assumeFalse(Features.pkeysWork(), "protection keys work here");
        String[] r = run("tls", "--retag-demo", "--json");
        assertEquals("0", r[0], r[2]);
        JsonNode demo = new ObjectMapper().readTree(r[1]).get("retagDemo");
        assertFalse(demo.get("available").asBoolean());
        assertTrue(demo.get("reason").asText().startsWith("protection keys are not available: "), demo.toString());
    }

    @Test
    void retagDemoShowsTheFourStepsAndLeavesNothing() {
        Features.assumePkeys();
        String[] r = run("tls", "--retag-demo");
        assertEquals("0", r[0], r[2]);
        String o = r[1];
        int one = o.indexOf("1. Allocate a key and retag, page by page");
        int two = o.indexOf("2. While tagged");
        int three = o.indexOf("3. Restore");
        int four = o.indexOf("4. Nothing left");
        assertTrue(one > 0 && two > one && three > two && four > three, o);
        assertTrue(o.contains("TCB page read ok, errno write ok"), o);
        assertTrue(o.contains("setRights(NO_ACCESS): refused"), o);
        assertTrue(o.contains("mappings carrying any key: none; keys allocatable: 15"), o);
        assertTrue(o.contains("as before the retag: yes"), o);
        assertTrue(o.contains("Experiments: 4 as expected, 0 unexpected, 0 skipped"), o);
    }

    @Test
    void retagDemoJsonHasThePagesTheProbesAndTheRefusal() throws Exception {
        Features.assumePkeys();
        String[] r = run("tls", "--retag-demo", "--json");
        assertEquals("0", r[0], r[2]);
        JsonNode demo = new ObjectMapper().readTree(r[1]).get("retagDemo");
        assertTrue(demo.get("available").asBoolean());
        assertEquals("a child JVM", demo.get("ranIn").asText());
        int key = demo.get("key").asInt();
        for (JsonNode p : demo.get("pages")) {
            assertTrue(p.get("page").asText().matches(HEX), p.toString());
            assertEquals(key, p.get("keyWhileTagged").asInt(), p.toString());
            assertEquals(0, p.get("keyAfter").asInt(), p.toString());
        }
        assertEquals("ok", demo.get("probes").get("tcbRead").asText());
        assertTrue(demo.get("deny").get("refused").asBoolean());
        assertEquals("none", demo.get("left").asText());
    }

    @Test
    void retagDemoDoesNotCombineWithThreads() {
        String[] r = run("tls", "--retag-demo", "--threads");
        assertEquals("2", r[0]);
        assertEquals(1, r[2].strip().lines().count(), r[2]);
        assertTrue(r[2].contains("--retag-demo"), r[2]);
    }

    @Test
    void tlsThreadsJsonHasOneMapPerThreadAndTheInitialThread() throws Exception {
        Features.assumeX86_64();
        String[] r = run("tls", "--threads", "--json");
        assertEquals("0", r[0], r[2]);
        JsonNode j = new ObjectMapper().readTree(r[1]);
        JsonNode threads = j.get("threads");
        assertEquals(3, threads.size());
        for (JsonNode t : threads) {
            checkMap(t);
            assertFalse(t.has("experiments"), "per-thread maps repeat the experiments");
        }
        assertEquals(TlsCommand.PLATFORM_THREAD, threads.get(1).get("thread").get("name").asText());
        assertTrue(threads.get(2).get("thread").get("virtual").asBoolean());
        assertEquals(JsonNodeType.STRING, threads.get(2).get("thread").get("carrier").getNodeType());
        JsonNode initial = j.get("initialThread");
        expect(initial, Map.of("found", JsonNodeType.BOOLEAN, "tid", JsonNodeType.NUMBER, "method", JsonNodeType.STRING));
        if (initial.get("found").asBoolean()) {
            checkMap(initial.get("map"));
            assertEquals(initial.get("tid").asInt(), initial.get("map").get("thread").get("pid").asInt());
        }
        assertEquals(JsonNodeType.ARRAY, j.get("experiments").getNodeType());
    }

    @Test
    void tlsTextReportsEverySection() {
        Features.assumeX86_64();
        String[] r = run("tls");
        assertEquals("0", r[0], r[2]);
        for (String s : List.of("Thread\n", "Modules with TLS", "Retag rules side by side", "Experiments:")) {
            assertTrue(r[1].contains(s), "missing " + s + " in\n" + r[1]);
        }
        assertTrue(r[1].contains("libc.so.6"));
        assertEquals("", r[2]);
    }

    @Test
    void mainThreadOfAJavaLauncherProcessKeepsItsTlsAtTheTopOfItsStackMapping() throws Exception {
        Features.assumeX86_64();
        // ChildJvm's 60 s default is for a real CPU: in the emulated PKU guest this JVM (JIT on) took 2 to 2.5 min.
        ChildJvm.Result r = ChildJvm.of(Main.class).args("tls", "--json").timeout(Duration.ofSeconds(600)).run();
        assertEquals(0, r.exitCode(), r.stderr());
        JsonNode j = new ObjectMapper().readTree(r.stdout());
        JsonNode thread = j.get("thread");
        assertEquals("main", thread.get("name").asText());
        assertFalse(thread.get("initialThread").asBoolean(), "the java launcher ran main on the initial thread");
        assertEquals("stack-top", j.get("placement").get("kind").asText());
        long tp = Long.decode(j.get("threadPointer").asText());
        String mapping = j.get("placement").get("mapping").asText();
        long end = Long.parseUnsignedLong(mapping.substring(mapping.indexOf('-') + 1, mapping.indexOf(' ')), 16);
        assertEquals(end, tp + j.get("tcbSize").asLong(), "main's TCB does not end at the top of " + mapping);
    }

    @Test
    void tlsHelpNamesItsOptions() {
        String[] r = run("tls", "--help");
        assertEquals("0", r[0]);
        assertTrue(r[1].contains("--json") && r[1].contains("--threads"), r[1]);
    }

    private static void checkMap(JsonNode j) {
        expect(j, Map.ofEntries(Map.entry("threadPointer", JsonNodeType.STRING), Map.entry("dtv", JsonNodeType.STRING),
                Map.entry("staticSize", JsonNodeType.NUMBER), Map.entry("staticAlign", JsonNodeType.NUMBER),
                Map.entry("tcbSize", JsonNodeType.NUMBER), Map.entry("low", JsonNodeType.STRING),
                Map.entry("high", JsonNodeType.STRING), Map.entry("pages", JsonNodeType.ARRAY),
                Map.entry("fixedWindowPages", JsonNodeType.ARRAY), Map.entry("pagesToRetag", JsonNodeType.ARRAY),
                Map.entry("modules", JsonNodeType.ARRAY), Map.entry("rules", JsonNodeType.ARRAY),
                Map.entry("thread", JsonNodeType.OBJECT), Map.entry("placement", JsonNodeType.OBJECT)));
        for (String k : List.of("threadPointer", "dtv", "low", "high")) {
            assertTrue(j.get(k).asText().matches(HEX), k + " = " + j.get(k));
        }
        j.get("pages").forEach(p -> assertTrue(p.asText().matches(HEX), p.toString()));
        assertEquals(9, j.get("fixedWindowPages").size());
        boolean libc = false;
        for (JsonNode m : j.get("modules")) {
            expect(m, Map.of("module", JsonNodeType.STRING, "path", JsonNodeType.STRING, "size", JsonNodeType.NUMBER,
                    "align", JsonNodeType.NUMBER, "inStaticTls", JsonNodeType.BOOLEAN));
            for (String k : List.of("block", "offsetFromTp", "pageBelowTcb")) {
                assertTrue(m.has(k), "module lacks " + k + ": " + m);
            }
            assertTrue(m.get("block").isNull() || m.get("block").asText().matches(HEX), m.toString());
            assertTrue(m.get("offsetFromTp").isNull() || m.get("offsetFromTp").isNumber(), m.toString());
            assertTrue(m.get("pageBelowTcb").isNull() || m.get("pageBelowTcb").isNumber(), m.toString());
            libc |= m.get("module").asText().equals("libc.so.6");
        }
        assertTrue(libc, "no libc.so.6 module");
    }

    private static void expect(JsonNode node, Map<String, JsonNodeType> keys) {
        keys.forEach((k, type) -> {
            assertTrue(node.has(k), "missing key " + k + " in " + node);
            assertEquals(type, node.get(k).getNodeType(), k + " in " + node);
        });
    }
}
