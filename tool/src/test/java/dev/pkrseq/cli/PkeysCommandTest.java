package dev.pkrseq.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import dev.pkrseq.pkey.Protection;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import com.fasterxml.jackson.databind.JsonNode;
import dev.pkrseq.pkey.Pages;
import dev.pkrseq.pkey.ProtectionKey;
import dev.pkrseq.pkey.Rights;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** {@code pkrseq pkeys}: PKRU decoded, free keys, tagged mappings; words where keys are unavailable. */
@Tag("pku")
class PkeysCommandTest {

    @Test
    void withoutProtectionKeysItSaysSoInWordsAndExitsZero() {
        assumeFalse(Features.pkeysWork(), "protection keys work here");
        ProbeCommandTest.Run r = Commands.ok("pkeys");
        assertEquals("", r.err);
        assertTrue(r.out.contains("Protection keys are unavailable here: "), r.out);
        assertTrue(!r.out.contains("Exception"), r.out);
        JsonNode j = Commands.json("pkeys", "--json");
        assertEquals(false, j.get("supported").asBoolean());
        assertTrue(j.get("reason").asText().length() > 10);
        assertTrue(j.get("pkru").isNull());
        assertEquals(0, j.get("keys").size());
        assertEquals(0, j.get("allocatable").asInt());
        assertTrue(j.get("mappings").isArray());
    }

    @Test
    void showsPkruForSixteenKeysTheFreeKeysAndTaggedMappings() throws Exception {
        Features.assumePkeys();
        try (ProtectionKey key = ProtectionKey.allocate(Rights.NO_WRITE); Arena arena = Arena.ofConfined()) {
            MemorySegment page = tagged(key, arena, 1);
            ProbeCommandTest.Run text = Commands.ok("pkeys");
            assertTrue(text.out.contains("Mappings carrying a non-zero key: 1"), text.out);
            assertTrue(text.out.contains("0x" + Long.toHexString(page.address())), text.out);
            JsonNode j = Commands.json("pkeys", "--json");
            assertTrue(j.get("supported").asBoolean());
            assertEquals(16, j.get("keys").size());
            JsonNode mine = j.get("keys").get(key.number());
            assertEquals("no-write", mine.get("rights").asText());
            assertTrue(mine.get("writeDisabled").asBoolean());
            assertEquals("read-write", j.get("keys").get(0).get("rights").asText());
            assertTrue(j.get("pkru").asText().matches("0x[0-9a-f]{8}"));
            assertTrue(j.get("allocatable").asInt() <= 14);
            assertEquals(1, j.get("mappings").size());
            assertEquals(key.number(), j.get("mappings").get(0).get("key").asInt());
            assertEquals(1, j.get("mappings").get(0).get("pages").asInt());
        }
    }

    @Test
    void keyOptionShowsAnAllocatedKeysRightsAndTheMappingsCarryingIt() throws Exception {
        Features.assumePkeys();
        try (ProtectionKey key = ProtectionKey.allocate(Rights.NO_WRITE); Arena arena = Arena.ofConfined()) {
            MemorySegment pages = tagged(key, arena, 2);
            String n = Integer.toString(key.number());
            ProbeCommandTest.Run text = Commands.ok("pkeys", "--key", n);
            assertTrue(text.out.contains("Rights of thread '" + Thread.currentThread().getName() + "'"), text.out);
            assertTrue(text.out.contains(": no-write (access-disable -, write-disable set)"), text.out);
            assertTrue(text.out.contains("Mappings carrying key " + n + ": 1"), text.out);
            assertTrue(text.out.contains("0x" + Long.toHexString(pages.address())), text.out);
            JsonNode j = Commands.json("pkeys", "--key", n, "--json");
            assertEquals(key.number(), j.get("key").asInt());
            assertTrue(j.get("allocated").asBoolean());
            assertEquals("no-write", j.get("rights").asText());
            assertEquals(1, j.get("mappings").size());
            assertEquals(2, j.get("mappings").get(0).get("pages").asInt());
            boolean listed = false;
            for (JsonNode k : j.get("allocatedKeys")) {
                listed |= k.asInt() == key.number();
            }
            assertTrue(listed, j.toString());
        }
    }

    @Test
    void keyZeroIsAlwaysAllocated() {
        ProbeCommandTest.Run text = Commands.ok("pkeys", "--key", "0");
        assertTrue(text.out.startsWith("pkrseq pkeys: protection key 0 of this JVM"), text.out);
        JsonNode j = Commands.json("pkeys", "--key", "0", "--json");
        assertTrue(j.get("allocated").asBoolean());
        assertEquals(Features.pkeysWork() ? "read-write" : "null", j.get("rights").asText());
    }

    /** Fresh read-write pages that carry {@code key}, for the command to find. */
    private static MemorySegment tagged(ProtectionKey key, Arena arena, int pages) {
        MemorySegment s = Pages.allocate(arena, pages);
        key.protect(s, Protection.READ_WRITE);
        return s;
    }

    @Test
    void helpNamesTheJsonOption() {
        ProbeCommandTest.Run r = new ProbeCommandTest.Run("pkeys", "--help");
        assertEquals(0, r.status);
        assertTrue(r.out.contains("--json"));
    }
}
