package dev.pkrseq.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import java.util.OptionalLong;

import dev.pkrseq.Mapping;
import org.junit.jupiter.api.Test;

/** The TCB size derivation on synthetic layouts: which witness wins, and when it is rejected. */
class TcbSizeTest {
    private static final long PAGE = 4096;

    private static Optional<Mapping> stackEndingAt(long end) {
        return Optional.of(new Mapping(end - (1 << 20), end, "rw-p", 0, "00:00", 0, "", null));
    }

    @Test
    void stackTopWitnessIsTheSizeWhenTheStaticAlignmentIsAtMost64() {
        long end = 0x7f0000100000L;
        TcbSize t = TcbSize.derive(end - 2368, stackEndingAt(end), 64, PAGE, OptionalLong.of(2336));
        assertEquals(2368, t.bytes());
        assertEquals(TcbSize.Method.STACK_MAPPING_END, t.method());
        assertTrue(t.exact());
        assertEquals(Boolean.TRUE, t.rseqAgrees());
    }

    @Test
    void witnessLargerThanAPageIsRejectedForTheRseqOffset() {
        long tp = 0x7f0000100e40L;
        TcbSize t = TcbSize.derive(tp, stackEndingAt(tp + 3 * PAGE), 64, PAGE, OptionalLong.of(2336));
        assertEquals(TcbSize.Method.RSEQ_OFFSET, t.method());
        assertEquals(2368, t.bytes());
        assertNull(t.witness());
    }

    @Test
    void witnessShorterThanTheRseqAreaIsRejected() {
        long end = 0x7f0000100000L;
        TcbSize t = TcbSize.derive(end - 1024, stackEndingAt(end), 64, PAGE, OptionalLong.of(2336));
        assertEquals(TcbSize.Method.RSEQ_OFFSET, t.method());
    }

    @Test
    void staticAlignmentAbove64IsPinnedByTheRseqOffset() {
        // A module with 4096-aligned TLS makes allocate_stack round the TCB down to a page: end - tp = 4096.
        long end = 0x7f0000100000L;
        TcbSize t = TcbSize.derive(end - 4096, stackEndingAt(end), 4096, PAGE, OptionalLong.of(2336));
        assertEquals(2368, t.bytes());
        assertEquals(4096L, t.witness());
        assertTrue(t.exact());
    }

    @Test
    void staticAlignmentAbove64WithoutRseqIsAnUpperBound() {
        long end = 0x7f0000100000L;
        TcbSize t = TcbSize.derive(end - 4096, stackEndingAt(end), 4096, PAGE, OptionalLong.empty());
        assertEquals(4096, t.bytes());
        assertFalse(t.exact());
        assertNull(t.rseqAgrees());
    }

    @Test
    void noWitnessAtAllIsRefusedInWords() {
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                () -> TcbSize.derive(0x7f0000100e40L, Optional.empty(), 64, PAGE, OptionalLong.of(-160)));
        assertTrue(e.getMessage().contains("cannot derive"), e.getMessage());
    }
}
