package dev.pkrseq.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import dev.pkrseq.testing.Features;
import dev.pkrseq.testing.SignalRun;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The commands that run child JVMs, ended by SIGINT or SIGTERM while a child runs, as real processes
 * with a private {@code java.io.tmpdir}: no process of theirs is left, no file is left, the status is the
 * conventional 130 or 143, and nothing but the shell's own line is printed (no stack trace). The broken
 * twin of these checks is {@code ChildJvmSignalTest}'s.
 */
@Tag("pku")
class CliSignalTest {
    private static SignalRun.Outcome whileAChildRuns(String signal, String... args) throws Exception {
        return SignalRun.run(Main.class, signal, live -> live.stream().anyMatch(SignalRun::isJava), args);
    }

    private static void leftNothing(SignalRun.Outcome o, int status) {
        assertEquals(status, o.status(), o.toString());
        assertTrue(o.seen().stream().anyMatch(s -> s.endsWith("/java")), o.toString());
        assertEquals(List.of(), o.alive(), o.toString());
        assertEquals(List.of(), o.leftover(), o.toString());
        assertFalse(o.stderr().contains("Exception") || o.stderr().contains("\tat "), o.toString());
    }

    @ParameterizedTest
    @CsvSource({"INT, 130", "TERM, 143"})
    void probeEndedWhileItsChildRunsLeavesNoProcessAndNoFile(String signal, int status) throws Exception {
        Features.assumeRseq();
        try (SignalRun.Outcome o = whileAChildRuns(signal, "probe")) {
            leftNothing(o, status);
            // The child's output files existed when the signal came.
            assertTrue(o.filesAtSignal().stream().anyMatch(f -> f.startsWith("pkrseq-child-")), o.toString());
        }
    }

    @ParameterizedTest
    @CsvSource({"INT, 130", "TERM, 143"})
    void watchWithOwnRegistrationEndedWhileItsChildRunsLeavesNoProcess(String signal, int status) throws Exception {
        Features.assumeRseq();
        try (SignalRun.Outcome o = whileAChildRuns(signal, "watch", "--own-registration", "--threads", "2",
                "--interval", "100ms")) {
            leftNothing(o, status);
        }
    }

    @ParameterizedTest
    @CsvSource({"INT, 130", "TERM, 143"})
    void tlsRetagDemoEndedWhileItsChildRunsLeavesNoProcessAndNoFile(String signal, int status) throws Exception {
        Features.assumePkeys();
        try (SignalRun.Outcome o = whileAChildRuns(signal, "tls", "--retag-demo")) {
            leftNothing(o, status);
            assertTrue(o.filesAtSignal().stream().anyMatch(f -> f.startsWith("pkrseq-tls-")), o.toString());
        }
    }
}
