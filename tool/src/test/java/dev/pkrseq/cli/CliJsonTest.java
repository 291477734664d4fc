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
    void jsonOutputIsOneDocumentThatNamesItsSchema(String schema, List<String> args) {
        Features.assumeRseq();
        JsonNode j = Commands.json(args.toArray(String[]::new));
        assertEquals(schema, j.get("schema").asText(), j.toString());
        assertEquals("schema", j.fieldNames().next(), "schema comes first");
    }

    @Test
    void pkeysKeyJsonNamesItsSchema() {
        // Without protection keys key 0 still exists: every page carries it.
        JsonNode j = Commands.json("pkeys", "--json", "--key", "0");
        assertEquals("pkrseq.pkeys.key/1", j.get("schema").asText());
    }

    @Test
    void watchJsonLinesAreEachOneDocumentThatNamesItsSchema() {
        Features.assumeRseq();
        for (JsonNode sample : Commands.jsonLines(2, "watch", "--json", "--samples", "2", "--interval", "10ms",
                "--threads", "1", "--workload", "sleep")) {
            assertEquals("pkrseq.watch.sample/1", sample.get("schema").asText());
        }
    }

    @Test
    void aThreadIsAnObjectWithNameAndTidInEveryDocument() {
        Features.assumeRseq();
        for (String command : List.of("probe", "pkeys", "rseq", "tls")) {
            JsonNode doc = command.equals("probe") ? Commands.json(command, "--json", "--no-experiments")
                    : Commands.json(command, "--json");
            JsonNode thread = doc.get("thread");
            assertTrue(thread.isObject(), command + ": " + doc);
            assertTrue(thread.get("name").isTextual() && thread.get("tid").isInt(), command + ": " + thread);
            assertFalse(doc.has("tid"), command + " has a tid apart from its thread");
        }
    }

    @Test
    void probeAndRseqNameTheRseqSymbolsAlike() {
        Features.assumeRseq();
        JsonNode probe = Commands.json("probe", "--json", "--no-experiments").get("rseq");
        JsonNode rseq = Commands.json("rseq", "--json");
        for (String k : List.of("owner", "offset", "size", "featureSize", "align")) {
            assertEquals(probe.get(k), rseq.get(k), k);
        }
    }

    @Test
    void codeJsonListsEveryLineOfTheTextListing() {
        Features.assumeRseq();
        String text = new ProbeCommandTest.Run("percpu", "--code").out;
        JsonNode j = Commands.json("percpu", "--code", "--json");
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
