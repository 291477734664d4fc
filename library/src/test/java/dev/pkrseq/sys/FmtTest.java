package dev.pkrseq.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Arguments in messages and events read as C: flag names or'ed, unknown bits in hex. */
class FmtTest {

    @Test
    void protectionsAreNamedAndUnknownBitsShownInHex() {
        assertEquals("PROT_NONE", Fmt.prot(0));
        assertEquals("PROT_READ|PROT_WRITE", Fmt.prot(3));
        assertEquals("PROT_EXEC", Fmt.prot(4));
        assertEquals("PROT_READ|0x8", Fmt.prot(9));
        assertEquals("0x10", Fmt.prot(0x10));
    }

    @Test
    void mapFlagsAreNamedAndNoFlagIsZero() {
        assertEquals("0", Fmt.mapFlags(0));
        assertEquals("MAP_PRIVATE|MAP_ANONYMOUS", Fmt.mapFlags(0x22));
        assertEquals("MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED_NOREPLACE|MAP_POPULATE", Fmt.mapFlags(0x108022));
        assertEquals("MAP_PRIVATE|0x1", Fmt.mapFlags(0x3));
    }
}
