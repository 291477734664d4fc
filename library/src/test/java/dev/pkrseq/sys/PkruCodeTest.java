package dev.pkrseq.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.pkrseq.pkey.Pkru;
import dev.pkrseq.pkey.ProtectionKey;
import dev.pkrseq.pkey.Rights;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The glibc-free PKRU path reads and writes the same register glibc's pkey_get and pkey_set do. */
@Tag("pku")
class PkruCodeTest {
    @Test
    void rdpkruReadsWhatPkeyGetComposesAndWrpkruWritesWhatPkeyGetThenSees() {
        Features.assumePkeys();
        try (ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE)) {
            int before = PkruCode.read();
            assertEquals(Pkru.current().value(), before);
            int denied = Pkru.current().with(key.number(), Rights.NO_ACCESS).value();
            PkruCode.write(denied);
            try {
                assertEquals(PkeyCalls.PKEY_DISABLE_ACCESS, PkeyCalls.pkeyGet(key.number()));
                assertEquals(denied, PkruCode.read());
            } finally {
                PkruCode.write(before);
            }
            assertEquals(before, Pkru.current().value());
        }
    }
}
