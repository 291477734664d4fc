package dev.pkrseq.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pkrseq.Platform;
import dev.pkrseq.pkey.Pkeys;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@code pkrseq pkeys --kernel-paths} and {@code --threads}: the matrix with at least 12 paths under 2 rights,
 * every thread with its rights or the reason it has none; words where keys are unavailable.
 */
@Tag("pku")
class PkeysDepthCommandTest {
    private static JsonNode json(String... args) throws Exception {
        ProbeCommandTest.Run r = new ProbeCommandTest.Run(args);
        assertEquals(0, r.status, r.err);
        return new ObjectMapper().readTree(r.out);
    }

    @Test
    void kernelPathsJsonListsAtLeastTwelvePathsUnderTwoRightsEachAsTheSourcesSay() throws Exception {
        JsonNode j = json("pkeys", "--kernel-paths", "--json");
        assertEquals(Platform.kernelRelease(), j.get("kernel").asText());
        if (!Pkeys.supported()) {
            assertEquals(false, j.get("supported").asBoolean());
            assertTrue(j.get("reason").asText().length() > 10, j.toString());
            assertEquals(0, j.get("rows").size());
            return;
        }
        JsonNode rows = j.get("rows");
        assertTrue(rows.size() >= 24, "rows: " + rows.size());
        java.util.Set<String> paths = new java.util.HashSet<>();
        for (JsonNode r : rows) {
            paths.add(r.get("path").asText());
            assertTrue(r.get("asExpected").asBoolean(), r.toString());
            assertTrue(java.util.List.of("no-access", "no-write").contains(r.get("rights").asText()), r.toString());
        }
        assertTrue(paths.size() >= 12, paths.toString());
    }

    @Test
    void threadsJsonListsEveryThreadWithItsRightsOrWhyNot() throws Exception {
        Features.assumeX86_64();
        JsonNode j = json("pkeys", "--threads", "--with-key", "--json");
        assertTrue(j.get("threads").size() >= 5, j.toString());
        for (JsonNode t : j.get("threads")) {
            assertTrue(t.get("tid").asInt() > 0);
            if (j.get("supported").asBoolean()) {
                assertTrue(t.get("pkru").asText().matches("0x[0-9a-f]{8}"), t.toString());
                assertEquals(j.get("keys").size(), t.get("rights").size(), t.toString());
            } else {
                assertTrue(t.get("error").asText().length() > 10, t.toString());
            }
        }
        if (j.get("supported").asBoolean()) {
            assertEquals(2, j.get("keys").size(), "key 0 and the one --with-key allocated: " + j.get("keys"));
        }
    }

    @Test
    void withKeyAloneIsAUsageError() {
        ProbeCommandTest.Run r = new ProbeCommandTest.Run("pkeys", "--with-key");
        assertEquals(2, r.status, r.err);
        assertTrue(r.err.contains("--with-key goes with --threads"), r.err);
    }
}
