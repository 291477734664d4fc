package dev.pkrseq.pkey;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import dev.pkrseq.sys.Sys;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** PKRU values: decoding, and the calling thread's register read exactly. */
@Tag("pku")
class PkruTest {

    @Test
    void initialValueDeniesAccessToKeysOneToFifteenOnly() {
        List<Pkru.KeyRights> keys = Pkru.INITIAL.decode();
        assertEquals(16, keys.size());
        assertEquals(new Pkru.KeyRights(0, Rights.READ_WRITE, false, false), keys.get(0));
        for (int k = 1; k < 16; k++) {
            assertEquals(new Pkru.KeyRights(k, Rights.NO_ACCESS, true, false), keys.get(k));
        }
        assertEquals("0x55555554", Pkru.INITIAL.toString());
    }

    @Test
    void bitTwoKIsAccessDisableAndBitTwoKPlusOneIsWriteDisable() {
        Pkru p = new Pkru(0).with(3, Rights.NO_WRITE).with(5, Rights.NO_ACCESS);
        assertEquals((2 << 6) | (1 << 10), p.value());
        assertEquals(Rights.NO_WRITE, p.rights(3));
        assertEquals(Rights.NO_ACCESS, p.rights(5));
        assertEquals(Rights.READ_WRITE, p.rights(4));
        assertEquals(0xc0000000, new Pkru(0xc0000000).value());
        assertEquals(3, new Pkru(0xc0000000).bits(15));
    }

    @Test
    void bothBitsSetGrantNoAccess() {
        assertEquals(Rights.NO_ACCESS, Rights.ofBits(3));
        assertEquals(Rights.NO_ACCESS, new Pkru(3 << 2).rights(1));
        Pkru.KeyRights k = new Pkru(3 << 2).decode().get(1);
        assertTrue(k.accessDisabled() && k.writeDisabled());
    }

    @Test
    void rightsBitsAreTheKernelsConstants() {
        assertEquals(0, Rights.READ_WRITE.bits());
        assertEquals(Sys.PKEY_DISABLE_WRITE, Rights.NO_WRITE.bits());
        assertEquals(Sys.PKEY_DISABLE_ACCESS, Rights.NO_ACCESS.bits());
        assertEquals("no-access", Rights.NO_ACCESS.toString());
        assertFalse(Rights.READ_WRITE.denies());
    }

    @Test
    void currentPkruChangesInExactlyTheTwoBitsOfTheKeySet() {
        Features.assumePkeys();
        try (ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE)) {
            int k = key.number();
            Pkru before = Pkru.current();
            assertEquals(Rights.READ_WRITE, before.rights(k));
            for (Rights r : Rights.values()) {
                key.setRights(r);
                Pkru now = Pkru.current();
                assertEquals(before.with(k, r), now, "after setting " + r);
                assertEquals(r, key.rights());
            }
            key.setRights(Rights.READ_WRITE);
        }
    }

    @Test
    void currentPkruAgreesWithPkeyGetForEveryKey() {
        Features.assumePkeys();
        Pkru p = Pkru.current();
        for (int k = 0; k < 16; k++) {
            assertEquals(Sys.pkeyGet(k), p.bits(k), "key " + k);
        }
        assertEquals(0, p.bits(0), "key 0 is always open");
    }

    @Test
    void restorePutsBackASavedValue() {
        Features.assumePkeys();
        Pkru saved = Pkru.current();
        try (ProtectionKey a = ProtectionKey.allocate(Rights.READ_WRITE);
                ProtectionKey b = ProtectionKey.allocate(Rights.NO_WRITE)) {
            Sys.pkeySet(a.number(), Sys.PKEY_DISABLE_ACCESS | Sys.PKEY_DISABLE_WRITE);
            assertTrue(!saved.equals(Pkru.current()));
            saved.restore();
            assertEquals(saved, Pkru.current());
            assertEquals(saved.bits(b.number()), Sys.pkeyGet(b.number()));
        }
        assertEquals(saved, Pkru.current(), "closing keys sets their rights back to no-access, the default");
    }
}
