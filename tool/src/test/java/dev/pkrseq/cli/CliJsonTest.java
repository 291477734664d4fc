package dev.pkrseq.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Every command's --json output is JSON and nothing else, and says its schema. */
class CliJsonTest {
    /** One document and nothing after it: trailing text (a log line, a progress line) fails the parse. */
    static final ObjectReader STRICT = new ObjectMapper().readerFor(JsonNode.class)
            .with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    /** Parses one JSON document, failing on anything before or after it. */
    static JsonNode parse(String text) throws java.io.IOException {
        return STRICT.readValue(text);
    }

    static Stream<Arguments> documents() {
        return Stream.of(
                Arguments.of("pkrseq.probe/1", List.of("probe", "--json", "--no-experiments")),
                Arguments.of("pkrseq.probe/1", List.of("probe", "--json", "--only", "rseq.cpu,tls.")),
                Arguments.of("pkrseq.pkeys/1", List.of("pkeys", "--json")),
                Arguments.of("pkrseq.rseq/1", List.of("rseq", "--json")),
                Arguments.of("pkrseq.rseq/1", List.of("rseq", "--json", "--register")),
                Arguments.of("pkrseq.tls/1", List.of("tls", "--json")),
                Arguments.of("pkrseq.tls.threads/1", List.of("tls", "--json", "--threads")),
                Arguments.of("pkrseq.tls/1", List.of("tls", "--json", "--retag-demo")),
                Arguments.of("pkrseq.percpu/1", List.of("percpu", "--json", "--threads", "2", "--adds", "1000")),
                Arguments.of("pkrseq.percpu/1", List.of("percpu", "--json", "--threads", "1", "--adds", "1000",
                        "--no-disturber")),
                Arguments.of("pkrseq.percpu.code/1", List.of("percpu", "--json", "--code")));
    }

    @ParameterizedTest(name = "{1}")
    @MethodSource("documents")
    void jsonOutputIsOneDocumentThatNamesItsSchema(String schema, List<String> args) throws Exception {
        Features.assumeRseq();
        ProbeCommandTest.Run r = new ProbeCommandTest.Run(args.toArray(String[]::new));
        assertEquals(0, r.status, r.err);
        JsonNode j = parse(r.out);
        assertEquals(schema, j.get("schema").asText(), r.out);
        assertEquals("schema", j.fieldNames().next(), "schema comes first");
    }

    @Test
    void pkeysKeyJsonNamesItsSchema() throws Exception {
        ProbeCommandTest.Run r = new ProbeCommandTest.Run("pkeys", "--json", "--key", "0");
        // Without protection keys key 0 still exists: every page carries it.
        assertEquals(0, r.status, r.err);
        JsonNode j = parse(r.out);
        assertEquals("pkrseq.pkeys.key/1", j.get("schema").asText());
    }

    @Test
    void watchJsonLinesAreEachOneDocumentThatNamesItsSchema() throws Exception {
        Features.assumeRseq();
        ProbeCommandTest.Run r = new ProbeCommandTest.Run("watch", "--json", "--samples", "2", "--interval", "10ms",
                "--threads", "1", "--workload", "sleep");
        assertEquals(0, r.status, r.err);
        List<String> lines = r.out.lines().toList();
        assertEquals(2, lines.size(), r.out);
        for (String line : lines) {
            assertEquals("pkrseq.watch.sample/1", parse(line).get("schema").asText());
        }
    }

    @Test
    void aThreadIsAnObjectWithNameAndTidInEveryDocument() throws Exception {
        Features.assumeRseq();
        for (String command : List.of("probe", "pkeys", "rseq", "tls")) {
            ProbeCommandTest.Run r = command.equals("probe") ? new ProbeCommandTest.Run(command, "--json", "--no-experiments")
                    : new ProbeCommandTest.Run(command, "--json");
            JsonNode thread = parse(r.out).get("thread");
            assertTrue(thread.isObject(), command + ": " + r.out);
            assertTrue(thread.get("name").isTextual() && thread.get("tid").isInt(), command + ": " + thread);
            assertFalse(parse(r.out).has("tid"), command + " has a tid apart from its thread");
        }
    }

    @Test
    void probeAndRseqNameTheRseqSymbolsAlike() throws Exception {
        Features.assumeRseq();
        JsonNode probe = parse(new ProbeCommandTest.Run("probe", "--json", "--no-experiments").out).get("rseq");
        JsonNode rseq = parse(new ProbeCommandTest.Run("rseq", "--json").out);
        for (String k : List.of("owner", "offset", "size", "featureSize", "align")) {
            assertEquals(probe.get(k), rseq.get(k), k);
        }
    }

    @Test
    void codeJsonListsEveryLineOfTheTextListing() throws Exception {
        Features.assumeRseq();
        String text = new ProbeCommandTest.Run("percpu", "--code").out;
        JsonNode j = parse(new ProbeCommandTest.Run("percpu", "--code", "--json").out);
        assertEquals(text.lines().count() - 1, j.get("lines").size());
        assertTrue(text.startsWith("page " + j.get("page").asText()), text);
        for (JsonNode line : j.get("lines")) {
            assertTrue(line.get("label").isTextual() != line.get("instruction").isTextual(), line.toString());
        }
    }

    @Test
    void jvmOptionsThatLogToStdoutAreRecognised() {
        for (String o : List.of("-Xlog", "-Xlog:gc", "-Xlog:gc*=debug", "-Xlog:gc:stdout", "-Xlog:gc::uptime",
                "-verbose:gc")) {
            assertTrue(JvmLogging.logsToStdout(o), o);
        }
        for (String o : List.of("-Xlog:gc:stderr", "-Xlog:gc:file=gc.log", "-Xlog:disable", "-Xmx1g",
                "-XX:StartFlightRecording=filename=x.jfr")) {
            assertFalse(JvmLogging.logsToStdout(o), o);
        }
    }
}
