package dev.pkrseq.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code pkrseq shell SCRIPT}: jshell runs the script in an execution JVM that has pkrseq and native access. */
@Tag("pku")
class ShellCommandTest {
    private static ProbeCommandTest.Run shell(Path dir, String script) throws Exception {
        Path file = dir.resolve("script.jsh");
        Files.writeString(file, script);
        return new ProbeCommandTest.Run("shell", file.toString());
    }

    @Test
    void aScriptCallsTheLibraryAndTheHelpersWithTheImportsLoaded(@TempDir Path dir) throws Exception {
        Features.assumeRseq();
        ProbeCommandTest.Run r = shell(dir, """
                int cpu = Rseq.ensureRegistered().cpuId();
                System.out.println("cpu_id " + cpu + " of " + Platform.onlineCpus());
                rseq();
                """);
        assertEquals(0, r.status, r.err);
        assertTrue(r.out.matches("(?s)cpu_id \\d+ of \\d+\\n.*"), r.out);
        assertTrue(r.out.contains("pkrseq rseq: the calling thread's struct rseq"), "rseq() prints what pkrseq rseq prints: " + r.out);
        assertTrue(!r.out.contains("jshell>") && !r.out.contains("->"), "no prompt after the script: " + r.out);
    }

    @Test
    void aScriptAllocatesAKeyPrintsItsRightsAndFreesIt(@TempDir Path dir) throws Exception {
        Features.assumePkeys();
        ProbeCommandTest.Run r = shell(dir, """
                ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE);
                key.setRights(Rights.NO_WRITE);
                System.out.println("key " + key.number() + " rights " + key.rights());
                key.close();
                System.out.println("open after close: " + key.isOpen());
                pkru();
                """);
        assertEquals(0, r.status, r.err);
        assertTrue(r.out.matches("(?s)key \\d+ rights " + dev.pkrseq.pkey.Rights.NO_WRITE + "\\nopen after close: false\\n0x[0-9a-f]{8}\\n.*"),
                r.out);
    }

    @Test
    void aScriptThatCannotBeReadIsAUsageError() {
        ProbeCommandTest.Run r = new ProbeCommandTest.Run("shell", "/nonexistent/script.jsh");
        assertEquals(Main.EXIT_USAGE, r.status);
        assertTrue(r.err.startsWith("pkrseq: cannot read the script /nonexistent/script.jsh"), r.err);
    }
}
