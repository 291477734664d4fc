package dev.pkrseq.pkey;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The library's record of which ranges it tagged, used by the guards. */
class TagRegistryTest {
    // High addresses no real mapping uses, so the test cannot collide with tags of other tests.
    private static final long BASE = 0x7ff0_0000_0000L;

    @AfterEach
    void forget() {
        TagRegistry.assign(BASE, BASE + 0x100_0000, 0);
    }

    @Test
    void retaggingTheMiddleSplitsARange() {
        TagRegistry.assign(BASE, BASE + 0x3000, 14);
        TagRegistry.assign(BASE + 0x1000, BASE + 0x2000, 13);
        List<long[]> a = TagRegistry.rangesOf(14).stream().filter(r -> r[0] >= BASE).toList();
        assertEquals(2, a.size());
        assertArrayEquals(new long[] {BASE, BASE + 0x1000}, a.get(0));
        assertArrayEquals(new long[] {BASE + 0x2000, BASE + 0x3000}, a.get(1));
        assertArrayEquals(new long[] {BASE + 0x1000, BASE + 0x2000}, TagRegistry.overlap(13, BASE, BASE + 0x3000));
    }

    @Test
    void keyZeroForgetsOverlappingParts() {
        TagRegistry.assign(BASE, BASE + 0x4000, 14);
        TagRegistry.assign(BASE + 0x3000, BASE + 0x8000, 0);
        assertArrayEquals(new long[] {BASE, BASE + 0x3000}, TagRegistry.overlap(14, BASE, BASE + 0x8000));
        assertNull(TagRegistry.overlap(14, BASE + 0x3000, BASE + 0x8000));
    }

    @Test
    void overlapFindsARangeThatStartsBeforeTheQuery() {
        TagRegistry.assign(BASE, BASE + 0x4000, 14);
        assertArrayEquals(new long[] {BASE, BASE + 0x4000}, TagRegistry.overlap(14, BASE + 0x2000, BASE + 0x3000));
        assertNull(TagRegistry.overlap(13, BASE + 0x2000, BASE + 0x3000));
        assertNull(TagRegistry.overlap(14, BASE + 0x4000, BASE + 0x5000));
    }

    @Test
    void clearForgetsOneKeyOnly() {
        TagRegistry.assign(BASE, BASE + 0x1000, 14);
        TagRegistry.assign(BASE + 0x1000, BASE + 0x2000, 13);
        TagRegistry.clear(14);
        assertNull(TagRegistry.overlap(14, BASE, BASE + 0x2000));
        assertArrayEquals(new long[] {BASE + 0x1000, BASE + 0x2000}, TagRegistry.overlap(13, BASE, BASE + 0x2000));
    }
}
