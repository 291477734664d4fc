package dev.pkrseq.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pkrseq.sys.LoaderCalls;
import dev.pkrseq.sys.LoadedObject;

import java.util.List;

import org.junit.jupiter.api.Test;

/** The PT_TLS decoding, now outside the native layer: the loader's objects become TLS modules. */
class ElfModuleTest {

    @Test
    void theTlsSegmentIsThePtTlsHeaderAndNothingElse() {
        LoadedObject.ProgramHeader load = new LoadedObject.ProgramHeader(1, 5, 0, 0, 0, 0x1000, 0x1000, 0x1000);
        LoadedObject.ProgramHeader tls = new LoadedObject.ProgramHeader(7, 4, 0x2000, 0x3000, 0x3000, 0x10, 0x48, 8);
        ElfModule m = ElfModule.of(new LoadedObject("/lib/x.so", 0x7f0000000000L, 2, 0x7f0000100000L,
                List.of(load, tls)));
        assertEquals(new ElfModule.TlsSegment(0x3000, 0x10, 0x48, 8), m.tls());
        assertEquals(2, m.programHeaders());
        assertEquals(2, m.tlsModuleId());
        assertNull(ElfModule.of(new LoadedObject("", 0, 0, 0, List.of(load))).tls(), "no PT_TLS, no segment");
    }

    @Test
    void libcLoadedInThisJvmHasATlsSegmentWithItsModuleId() {
        ElfModule libc = LoaderCalls.loadedObjects().stream().map(ElfModule::of)
                .filter(m -> m.path().endsWith("/libc.so.6")).findFirst().orElseThrow();
        assertNotNull(libc.tls(), "glibc keeps errno in its static TLS");
        assertTrue(libc.tlsModuleId() > 0);
        assertTrue(libc.tls().memorySize() >= libc.tls().fileSize());
    }
}
