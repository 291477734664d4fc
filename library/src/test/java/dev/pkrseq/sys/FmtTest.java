package dev.pkrseq.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;

import org.junit.jupiter.api.Test;

/** Arguments in messages and events read as C: flag names or'ed, unknown bits in hex. */
class FmtTest {

    @Test
    void protectionsAndMapFlagsAreNamedAndUnknownBitsShownInHex() {
        Map<Integer, String> prot = Map.of(0, "PROT_NONE", 3, "PROT_READ|PROT_WRITE", 4, "PROT_EXEC",
                9, "PROT_READ|0x8", 0x10, "0x10");
        prot.forEach((bits, text) -> assertEquals(text, Fmt.prot(bits), "prot " + bits));
        Map<Integer, String> map = Map.of(0, "0", 0x22, "MAP_PRIVATE|MAP_ANONYMOUS",
                0x108022, "MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED_NOREPLACE|MAP_POPULATE", 0x3, "MAP_PRIVATE|0x1");
        map.forEach((bits, text) -> assertEquals(text, Fmt.mapFlags(bits), "flags " + bits));
    }
}
