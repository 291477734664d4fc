package dev.pkrseq.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

import dev.pkrseq.proc.Smaps;
import dev.pkrseq.proc.Task;
import dev.pkrseq.Mapping;
import dev.pkrseq.sys.LoaderCalls;
import dev.pkrseq.sys.MemoryCalls;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Test;

/** The calling thread's static TLS map, one observed behaviour per test. */
class TlsLayoutTest {

    @Test
    void boundsContainTheThreadPointersTcbPage() {
        Features.assumeX86_64();
        TlsLayout l = Tls.current();
        long tp = LoaderCalls.threadPointer();
        long page = tp & ~(MemoryCalls.pageSize() - 1);
        assertEquals(tp, l.threadPointer());
        assertTrue(l.contains(tp), "tp outside [low, high)");
        assertEquals(page, l.tcbPage());
        assertTrue(l.pages().contains(page), "the exact range lacks the TCB page");
        assertEquals(page, l.pages().get(l.pages().size() - 1), "the exact range does not end at the TCB page");
        assertEquals(l.low() & ~(MemoryCalls.pageSize() - 1), l.pages().get(0), "the exact range does not start at page(low)");
        assertEquals(l.staticSize(), l.high() - l.low(), "[low, high) is not dl_tls_static_size long");
    }

    @Test
    void dlIteratePhdrIncludesLibcWhoseBlockHoldsThisThreadsErrno() {
        Features.assumeX86_64();
        TlsLayout l = Tls.current();
        TlsModule libc = l.module("libc.so.6").orElseThrow(() -> new AssertionError("no libc.so.6 among " + l.modules()));
        assertTrue(libc.allocated());
        long errno = LoaderCalls.errnoLocation();
        assertTrue(libc.holds(errno), String.format("errno 0x%x not in libc's block [0x%x, 0x%x)", errno, libc.block(), libc.end()));
        assertEquals(errno, l.errnoLocation());
    }

    @Test
    void tcbSizeDerivedFromTheStackMappingAgreesWithRseqOffset() {
        Features.assumeX86_64();
        long offset = LoaderCalls.longSymbol("__rseq_offset").orElse(-1);
        assumeTrue(offset >= 0, "glibc exports no __rseq_offset inside the TCB (before 2.35, or 2.41+)");
        TlsLayout l = Tls.current();
        TcbSize tcb = l.tcb();
        Mapping stack = Smaps.containing(Smaps.self(), l.threadPointer()).orElseThrow();
        assertEquals(TcbSize.Method.STACK_MAPPING_END, tcb.method(), tcb.explain());
        assertEquals(stack.end() - l.threadPointer(), (long) tcb.witness());
        assertTrue(offset + TcbSize.RSEQ_AREA <= tcb.bytes(), "rseq area ends past the TCB: " + tcb.explain());
        assertEquals(Boolean.TRUE, tcb.rseqAgrees(), tcb.explain());
    }

    @Test
    void dtvIsTheWordAtTpPlus8AndTheHeaderPointsToItself() {
        Features.assumeX86_64();
        TlsLayout l = Tls.current();
        MemorySegment head = MemoryCalls.memory(LoaderCalls.threadPointer(), 24);
        assertEquals(head.get(ValueLayout.JAVA_LONG, 8), l.dtv());
        assertEquals(l.threadPointer(), head.get(ValueLayout.JAVA_LONG, 0), "tcbhead_t.tcb is not tp");
        assertEquals(l.threadPointer(), head.get(ValueLayout.JAVA_LONG, 16), "tcbhead_t.self is not tp");
        assertTrue(l.headerConsistent());
        Mapping dtv = Smaps.containing(l.snapshot(), l.dtv()).orElseThrow(() -> new AssertionError("DTV unmapped"));
        assertTrue(dtv.perms().startsWith("rw"), dtv.toString());
        assertTrue(l.dtvLength() >= l.modules().stream().filter(TlsModule::allocated).mapToLong(TlsModule::moduleId).max().orElse(1),
                "the DTV has fewer slots than the highest allocated module id");
    }

    @Test
    void twoThreadsHaveDifferentPointersAndBlocksButTheSameStaticOffsets() throws Exception {
        Features.assumeX86_64();
        TlsLayout a = Tls.current();
        TlsLayout b = Tls.onPlatformThread("tls-test-other");
        assertNotEquals(a.threadPointer(), b.threadPointer());
        assertNotEquals(a.thread().tid(), b.thread().tid());
        List<String> checked = new ArrayList<>();
        for (TlsModule m : a.modules()) {
            TlsModule n = b.module(m.module()).orElseThrow();
            if (m.dtv() == TlsModule.DtvState.STATIC && n.dtv() == TlsModule.DtvState.STATIC) {
                assertNotEquals(m.block(), n.block(), m.module());
                assertEquals(m.offsetFromTp(), n.offsetFromTp(), m.module() + " moved relative to tp");
                checked.add(m.module());
            }
        }
        assertTrue(checked.contains("libc.so.6"), "libc.so.6 is not static in both threads: " + checked);
    }

    @Test
    void virtualThreadReportsItsCarriersThreadPointer() throws Exception {
        Features.assumeX86_64();
        TlsLayout v = Tls.onVirtualThread("tls-test-virtual");
        assertTrue(v.thread().virtual());
        assertNotNull(v.thread().carrier(), "no carrier named");
        assertNotEquals(Tls.current().threadPointer(), v.threadPointer());
        assertEquals(Placement.Kind.STACK_TOP, v.placement().kind(), "the carrier is a pthread: its TCB tops its stack");
        // The kernel task that ran the computation is the carrier, a ForkJoinPool worker ("ForkJoinPool-1-" in comm).
        String comm = Task.comm(v.thread().tid()).orElse("");
        assertTrue(comm.startsWith("ForkJoinPool"), "task " + v.thread().tid() + " is '" + comm + "', not a carrier");
        assertTrue(v.thread().carrier().startsWith("ForkJoinPool"), v.thread().carrier());
    }

    @Test
    void fixedWindowIsTheTcbPageAndTheEightPagesBelow() {
        Features.assumeX86_64();
        TlsLayout l = Tls.current();
        List<Long> w = l.fixedWindowPages();
        assertEquals(9, w.size());
        for (int i = 0; i < w.size(); i++) {
            assertEquals(l.tcbPage() - (8L - i) * l.pageSize(), (long) w.get(i));
        }
    }

    @Test
    void pagesToRetagAreTheExactRangeThenTheDtvPagesApart() {
        Features.assumeX86_64();
        TlsLayout l = Tls.current();
        List<Long> r = l.pagesToRetag();
        assertEquals(l.pages(), r.subList(0, l.pages().size()));
        List<Long> rest = r.subList(l.pages().size(), r.size());
        assertEquals(l.dtvPageApart(), !rest.isEmpty());
        for (long p : rest) {
            assertTrue(l.dtvPages().contains(p));
            assertFalse(l.pages().contains(p));
        }
        assertTrue(r.containsAll(l.dtvPages()));
        assertEquals(r.size(), r.stream().distinct().count(), "duplicate pages");
    }

    @Test
    void pthreadThreadsStackLiesRightBelowItsStaticTls() {
        Features.assumeX86_64();
        TlsLayout l = Tls.current();
        assumeTrue(l.placement().kind() == Placement.Kind.STACK_TOP, "the test thread is not a pthread-created thread");
        // Page 1 below the TCB holds the end of the static TLS and, below low, the thread's own stack.
        TlsPage below = l.describePage(l.tcbPage() - 8 * l.pageSize());
        assertEquals(List.of("thread stack"), below.holds());
        assertEquals(l.high(), l.placement().mapping().end(), "the TCB does not end at the top of the stack mapping");
    }
}
