package dev.pkrseq.observe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import dev.pkrseq.testing.SignalRun;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A program that uses the lab as a library (no CLI), ended by SIGINT or SIGTERM while two child JVMs run
 * at once, each with a grandchild of its own: the lab's shutdown hook ends every one of them and removes
 * the children's files and the crash-log directory, and the JVM exits with the signal's conventional
 * status; the same holds for {@code System.exit} called from inside one of the lab's own worker threads.
 * The broken twin, a program whose child and file nothing registered, shows that the checks find what a
 * signal leaves behind.
 */
class ChildJvmSignalTest {
    private static boolean ready(List<ProcessHandle> live) {
        return live.stream().filter(SignalRun::isJava).count() == 2
                && live.stream().filter(h -> h.info().command().orElse("").endsWith("/sleep")).count() == 2;
    }

    @ParameterizedTest
    @CsvSource({"INT, 130", "TERM, 143"})
    void signalWhileTwoChildrenRunEndsThemAndTheirDescendantsAndRemovesTheirFiles(String signal, int status)
            throws Exception {
        try (SignalRun.Outcome o = SignalRun.run(SignalChildren.TwoChildren.class, signal, ChildJvmSignalTest::ready)) {
            assertEquals(status, o.status(), o.toString());
            assertEquals(4, o.seen().size(), o.toString());
            assertEquals(List.of(), o.alive(), o.toString());
            // Two output files per child and the crash-log directory existed, and are gone.
            assertEquals(5, o.filesAtSignal().size(), o.toString());
            assertEquals(List.of(), o.leftover(), o.toString());
        }
    }

    @ParameterizedTest
    @CsvSource({"INT, 130", "TERM, 143"})
    void brokenTwinUnregisteredChildAndFileAreFoundLeftBehind(String signal, int status) throws Exception {
        try (SignalRun.Outcome o = SignalRun.run(SignalChildren.Unregistered.class, signal,
                live -> live.stream().anyMatch(h -> h.info().command().orElse("").endsWith("/sleep")))) {
            assertEquals(status, o.status(), o.toString());
            assertEquals(1, o.alive().size(), o.toString());
            assertTrue(o.alive().get(0).endsWith("/sleep"), o.toString());
            assertEquals(1, o.leftover().size(), o.toString());
            assertTrue(o.leftover().get(0).startsWith("pkrseq-child-"), o.toString());
        }
    }

    @Test
    void exitCalledFromInsideALabWorkerThreadStillEndsTheChildrenAndRemovesTheirFiles() throws Exception {
        try (SignalRun.Outcome o = SignalRun.run(SignalChildren.ExitFromWorker.class, null, live -> true)) {
            assertEquals(7, o.status(), o.toString());
            // The child JVM and its grandchild ran.
            assertTrue(o.seen().stream().anyMatch(d -> d.endsWith("/sleep")), o.toString());
            assertEquals(List.of(), o.alive(), o.toString());
            assertEquals(List.of(), o.leftover(), o.toString());
            assertTrue(o.exitAfterSignal().toSeconds() < 30, o.toString());
        }
    }

    @Test
    void onceTheHookHasRunNoChildStartsAndNoDirectoryIsMade() throws Exception {
        try (SignalRun.Outcome o = SignalRun.run(SignalChildren.AfterTheHook.class, null, live -> true)) {
            assertEquals(0, o.status(), o.toString());
            String shuttingDown = "this JVM is shutting down (SIGINT, SIGTERM, SIGHUP or System.exit), and its shutdown"
                    + " hook has already ended the lab's children and removed their files";
            assertTrue(o.stdout().contains("child=ChildJvmException|child JVM dev.pkrseq.observe.SignalChildren$Sleeper:"
                    + " cannot create a temporary file: " + shuttingDown), o.toString());
            assertTrue(o.stdout().contains("directory=ShuttingDownException|cannot create a temporary directory: "
                    + shuttingDown), o.toString());
            assertEquals(List.of(), o.leftover(), o.toString());
            assertEquals(List.of(), o.alive(), o.toString());
        }
    }
}
