package dev.pkrseq.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;

/** pkrseq commands run in this JVM, with the checks every command's tests share. */
final class Commands {
    private Commands() {
    }

    /** Runs a command that must exit 0; a failure shows its standard error. */
    static ProbeCommandTest.Run ok(String... args) {
        ProbeCommandTest.Run r = new ProbeCommandTest.Run(args);
        assertEquals(0, r.status, r.err);
        return r;
    }

    /** Runs a command that must exit 0 and print one JSON document and nothing else. */
    static JsonNode json(String... args) {
        return parse(ok(args).out);
    }

    /** Runs a command that must exit 0 and print {@code lines} lines, each one JSON document. */
    static List<JsonNode> jsonLines(int lines, String... args) {
        ProbeCommandTest.Run r = ok(args);
        List<JsonNode> documents = new ArrayList<>();
        r.out.lines().forEach(line -> documents.add(parse(line)));
        assertEquals(lines, documents.size(), r.out + r.err);
        return documents;
    }

    /** A usage error: exit status 2, one line on standard error naming pkrseq and saying why, nothing else. */
    static void assertUsageError(ProbeCommandTest.Run r, String message) {
        assertEquals(2, r.status, r.err);
        assertEquals(1, r.err.lines().count(), r.err);
        assertTrue(r.err.startsWith("pkrseq: ") && r.err.contains(message), r.err);
        assertEquals("", r.out);
    }

    private static JsonNode parse(String text) {
        try {
            return CliJsonTest.parse(text);
        } catch (IOException e) {
            throw new AssertionError("not one JSON document: " + text, e);
        }
    }
}
