package dev.pkrseq.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pkrseq.rseq.Rseq;
import dev.pkrseq.sys.LoaderCalls;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Test;

/** The TLS map says where glibc's rseq area is and whether the seed's retag would tag it. */
class RseqAreaInRetagTest {
    @Test
    void theRetagOfAGlibcThreadsTlsCoversItsRseqArea() {
        Features.assumeX86_64();
        Features.assumeRseq();
        TlsLayout l = Tls.current();
        long area = LoaderCalls.threadPointer() + Rseq.glibcOffset().orElseThrow();
        assertEquals(area, l.rseqArea());
        assertTrue(l.retagCoversRseqArea(), "glibc " + LoaderCalls.glibcVersion().orElse("?") + " keeps the area at tp+"
                + Rseq.glibcOffset().orElseThrow() + ", on a page of " + l.pagesToRetag());
    }
}
