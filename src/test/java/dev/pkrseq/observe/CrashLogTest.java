package dev.pkrseq.observe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading a child's crash log: si_code by the kernel's name where HotSpot has none. */
class CrashLogTest {

    private static CrashLog read(Path dir, String siginfo) throws IOException {
        Files.writeString(dir.resolve("hs_err_pid4242.log"), "#\n# A fatal error has been detected\n#\n"
                + "---------------  S U M M A R Y ------------\n\n" + siginfo + "\n\nRegisters:\n");
        return CrashLog.of(134, dir);
    }

    @Test
    void siCodeFourOfSigsegvIsNamedSegvPkuerrWhereHotSpotSaysUnknown(@TempDir Path dir) throws IOException {
        String line = "siginfo: si_signo: 11 (SIGSEGV), si_code: 4 (unknown), si_addr: 0x00007f3a5c0b6000";
        CrashLog c = read(dir, line);
        assertEquals("SIGSEGV", c.signal());
        assertEquals(4, c.siCode());
        assertEquals("SEGV_PKUERR", c.siCodeName());
        assertEquals(0x7f3a5c0b6000L, c.siAddr());
        assertEquals(line, c.line(), "the crash log's own line stays as HotSpot wrote it");
        assertEquals("SIGABRT", c.exitSignal());
    }

    @Test
    void theOtherSigsegvCodesGetTheKernelsNames() {
        assertEquals("SEGV_MAPERR", CrashLog.codeName("SIGSEGV", 1, "SEGV_MAPERR"));
        assertEquals("SEGV_ACCERR", CrashLog.codeName("SIGSEGV", 2, "SEGV_ACCERR"));
        assertEquals("SEGV_BNDERR", CrashLog.codeName("SIGSEGV", 3, "unknown"));
        assertEquals("SEGV_PKUERR", CrashLog.codeName("SIGSEGV", 4, "unknown"));
    }

    @Test
    void codesTheKernelDoesNotDefineForSigsegvKeepHotSpotsName(@TempDir Path dir) throws IOException {
        CrashLog c = read(dir, "siginfo: si_signo: 11 (SIGSEGV), si_code: 128 (SI_KERNEL), si_addr: 0x0000000000000000");
        assertEquals("SI_KERNEL", c.siCodeName());
        assertEquals("unknown", CrashLog.codeName("SIGSEGV", 10, "unknown"));
        assertEquals("BUS_ADRERR", CrashLog.codeName("SIGBUS", 2, "BUS_ADRERR"), "si_code 2 of SIGBUS is not SEGV_ACCERR");
    }

    @Test
    void withoutACrashLogOnlyTheExitIsKnown(@TempDir Path dir) {
        CrashLog c = CrashLog.of(139, dir);
        assertEquals("SIGSEGV", c.exitSignal());
        assertNull(c.siCode());
        assertNull(c.siCodeName());
        assertEquals("exit 139 (killed by SIGSEGV)", c.exit());
    }
}
