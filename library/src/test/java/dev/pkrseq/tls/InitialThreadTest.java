package dev.pkrseq.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Test;

/** The process's initial thread, located from another thread. */
class InitialThreadTest {

    @Test
    void initialThreadTlsIsInLoaderMemoryWithTheSameStaticOffsets() {
        Features.assumeX86_64();
        TlsLayout self = Tls.current();
        assumeTrue(!self.thread().initialThread(), "the tests run on the initial thread");
        InitialThread it = Tls.initialThread();
        assertTrue(it.found(), it.method());
        TlsLayout l = it.layout();
        assertEquals(self.thread().pid(), l.thread().tid());
        assertTrue(l.headerConsistent());
        assertEquals(Placement.Kind.LOADER, l.placement().kind());
        assertTrue(l.modules().stream().noneMatch(m -> m.dtv() == TlsModule.DtvState.UNREADABLE), "its DTV was not read");
        TlsModule mine = self.module("libc.so.6").orElseThrow();
        TlsModule its = l.module("libc.so.6").orElseThrow();
        assertEquals(TlsModule.DtvState.STATIC, its.dtv());
        assertEquals(mine.offsetFromTp(), its.offsetFromTp(), "libc's static block is at another offset in the initial thread");
        assertTrue(its.inStaticTls());
    }
}
