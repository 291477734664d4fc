package dev.pkrseq.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;

import dev.pkrseq.observe.ChildJvm;
import dev.pkrseq.observe.PerCpuStress;
import dev.pkrseq.observe.RseqWatch;
import dev.pkrseq.pkey.Pkeys;
import dev.pkrseq.testing.CarriesOn;
import dev.pkrseq.testing.Features;
import dev.pkrseq.testing.JvmNotes;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The CLI rows of the misuse table (README.md): each misuse exits 2 with one line on
 * standard error that names the problem, no stack trace and nothing on standard output; the next
 * command works.
 */
@Tag("pku")
class CliMisuseTest {

    /** Runs a misuse; asserts exit 2, one line naming the problem, no stack trace; then a valid command. */
    private static String usageError(String names, String... args) {
        ProbeCommandTest.Run r = new ProbeCommandTest.Run(args);
        assertEquals(Main.EXIT_USAGE, r.status, String.join(" ", args) + ": " + r.err);
        assertEquals(1, r.err.lines().count(), "one line: " + r.err);
        assertTrue(r.err.startsWith("pkrseq: "), r.err);
        assertTrue(r.err.contains(names), "'" + names + "' not in: " + r.err);
        assertFalse(r.err.contains("Exception") || r.err.contains("\tat "), "no stack trace: " + r.err);
        assertEquals("", r.out, "nothing on standard output");
        ProbeCommandTest.Run next = new ProbeCommandTest.Run("pkeys");
        assertEquals(0, next.status, next.err);
        CarriesOn.check();
        return r.err;
    }

    @Test
    void unknownCommandExitsTwoWithOneLine() {
        usageError("Unmatched argument at index 0: 'frobnicate'", "frobnicate");
    }

    @Test
    void missingCommandExitsTwoWithOneLine() {
        usageError("missing command: choose one of probe, pkeys, tls, rseq, watch, percpu", new String[0]);
    }

    @Test
    void unknownOptionExitsTwoWithOneLine() {
        usageError("Unknown option: '--frobnicate'", "pkeys", "--frobnicate");
    }

    @Test
    void badNumberExitsTwoWithOneLine() {
        usageError("Invalid value for option '--threads': 'many' is not an int", "watch", "--threads", "many");
        usageError("Invalid value for option '--adds': '1e3' is not a long", "percpu", "--adds", "1e3");
        usageError("Invalid value for option '--key': 'three' is not an int", "pkeys", "--key", "three");
    }

    @Test
    void zeroOrNegativeThreadCountExitsTwoWithOneLine() {
        usageError("--threads must be 1 to " + RseqWatch.maxThreads() + " here (" + RseqWatch.maxThreadsReason() + "), not 0",
                "watch", "--threads", "0");
        usageError("--threads must be 1 to " + PerCpuStress.maxThreads() + " here (" + PerCpuStress.maxThreadsReason()
                + "), not -3", "percpu", "--threads", "-3");
        usageError("--threads must be 1 to " + PerCpuStress.maxThreads() + " here (" + PerCpuStress.maxThreadsReason()
                + "), not 0", "percpu", "--threads", "0");
    }

    @Test
    void zeroOrNegativeAddCountExitsTwoWithOneLine() {
        usageError("--adds must be at least 1, not 0", "percpu", "--adds", "0");
        usageError("--adds must be at least 1, not -5", "percpu", "--adds", "-5");
    }

    @Test
    void keyOutOfRangeExitsTwoWithOneLine() {
        usageError("--key 16 is out of range: x86 has protection keys 0 to 15", "pkeys", "--key", "16");
        usageError("--key -1 is out of range: x86 has protection keys 0 to 15", "pkeys", "--key", "-1");
    }

    @Test
    void keyNotAllocatedExitsTwoWithOneLine() {
        int n = 15;
        if (Features.pkeysWork()) {
            List<Integer> allocated = Pkeys.allocatedNow();
            while (allocated.contains(n)) {
                n--;
            }
        }
        String err = usageError("protection key " + n + " is not allocated in this process", "pkeys", "--key",
                Integer.toString(n));
        assertTrue(err.contains(Features.pkeysWork() ? "(allocated now: 0" : "protection keys are unavailable here"), err);
    }

    @Test
    void usageErrorOfTheRealProcessIsOneLineWithNoStackTrace() {
        // ChildJvm's 60 s default is for a real CPU: in the emulated PKU guest, on a loaded host, this JVM was killed at 60 s.
        ChildJvm.Result r = ChildJvm.of(Main.class).args("percpu", "--threads", "0").timeout(Duration.ofSeconds(600)).run();
        assertEquals(Main.EXIT_USAGE, r.exitCode(), r.stderr());
        assertEquals("pkrseq: --threads must be 1 to " + PerCpuStress.maxThreads() + " here (" + PerCpuStress.maxThreadsReason()
                + "), not 0 (see 'pkrseq percpu --help')\n",
                JvmNotes.withoutJvmNotes(r.stderr()));
        assertEquals("", r.stdout());
    }
}
