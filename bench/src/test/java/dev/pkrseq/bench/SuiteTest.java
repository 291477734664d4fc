package dev.pkrseq.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The suite with real JMH invocations of {@code fixture.FixtureBench}: a fork that really crashes, a
 * benchmark that throws, and invocations that fail as a whole. The suite must report each one, go on
 * with the rest, keep crash logs in the results folder, and exit 1.
 */
class SuiteTest {
    private static final List<String> SHORT = List.of("-f", "1", "-wi", "0", "-i", "1", "-r", "100ms");
    private static final Path CWD = Path.of("").toAbsolutePath();

    private static Suite.Invocation invocation(String name, String... args) {
        List<String> a = new ArrayList<>(List.of(args));
        a.addAll(SHORT);
        return new Suite.Invocation(name, a, Map.of());
    }

    private static String classPath() {
        return List.of(System.getProperty("java.class.path").split(java.io.File.pathSeparator)).stream()
                .map(p -> Path.of(p).toAbsolutePath().toString()).collect(Collectors.joining(java.io.File.pathSeparator));
    }

    private record Outcome(int exit, String console, Run run, String md) {
    }

    private static Outcome run(Path results, Suite.Invocation... plan) throws Exception {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        int exit;
        try (PrintStream console = new PrintStream(buf, true, StandardCharsets.UTF_8)) {
            exit = Suite.run(results, List.of(plan), classPath(), console);
        }
        String out = buf.toString(StandardCharsets.UTF_8);
        return new Outcome(exit, out, Run.read(results.resolve("latest.json")),
                Files.readString(results.resolve("latest.md")));
    }

    @Test
    void aCrashedForkAndAThrowingBenchmarkAreReportedAndTheSuiteGoesOnAndExitsOne(@TempDir Path results) throws Exception {
        TreeSet<String> cwdCrashLogs = HsErr.list(CWD);
        Outcome o = run(results, invocation("crash, throw and work", "FixtureBench.(crashesFork|throwsAlways|fine)$"),
                invocation("after the crash", "FixtureBench.fine$"));

        assertEquals(1, o.exit(), o.console());
        // Both invocations ran: the one after the crash too, and the working benchmark of the crashing one.
        assertEquals(2, o.run().results().stream().filter(r -> r.method().equals("fine")).count(), o.console());
        List<Failure> f = o.run().failures();
        assertEquals(2, f.size(), f.toString());

        Failure crash = f.stream().filter(x -> x.method().equals("crashesFork")).findFirst().orElseThrow();
        assertEquals(Failure.Kind.CRASHED, crash.kind());
        assertEquals("crash, throw and work", crash.invocation());
        assertEquals(134, crash.exitStatus(), "HotSpot aborts after writing its crash log");
        assertEquals(1, crash.logs().size(), crash.toString());
        Failure.CrashFile log = crash.logs().get(0);
        assertTrue(log.file().matches("hs_err_pid\\d+\\.log"), log.file());
        assertTrue(Files.isRegularFile(results.resolve(log.file())), "the crash log is in the results folder");
        String summary = String.join("\n", log.summary());
        assertTrue(summary.contains("SIGSEGV (0xb) at pc="), summary);
        assertTrue(summary.contains("si_code: 1 (SEGV_MAPERR), si_addr: 0x0000000000000000"), summary);
        assertTrue(summary.contains("Current thread ("), summary);

        Failure threw = f.stream().filter(x -> x.method().equals("throwsAlways")).findFirst().orElseThrow();
        assertEquals(Failure.Kind.THREW, threw.kind());
        assertTrue(threw.detail().stream().anyMatch(l -> l.contains("IllegalStateException: FixtureBench.throwsAlways")),
                threw.detail().toString());

        assertTrue(o.md().contains("## Failures"), o.md());
        assertTrue(o.md().contains("**This run is incomplete: 2 failures, and bench/run exited with status 1.**"), o.md());
        assertTrue(o.md().contains("### FixtureBench.crashesFork\n\nIn the invocation 'crash, throw and work': the fork"
                + " crashed: exit status 134 (SIGABRT). Crash log: [" + log.file() + "](" + log.file() + ")."), o.md());
        assertTrue(o.md().contains("si_code: 1 (SEGV_MAPERR)"), o.md());
        assertTrue(o.md().contains("### FixtureBench.throwsAlways"), o.md());
        assertTrue(o.console().contains("bench/run: FAILED in 'crash, throw and work': FixtureBench.crashesFork: the fork"
                + " crashed: exit status 134 (SIGABRT)"), o.console());
        assertTrue(o.console().contains("## Failures") && o.console().contains("## Ratios"), o.console());
        assertTrue(Files.isRegularFile(Run.failuresFile(results.resolve("latest.json"))));
        assertEquals(cwdCrashLogs, HsErr.list(CWD), "no crash log in the working directory");
        assertNoParts(results);
    }

    private static void assertNoParts(Path results) throws Exception {
        try (var s = Files.list(results)) {
            assertEquals(List.of(), s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("part-")).toList(),
                    "the invocations' parts and status files are gone");
        }
    }

    @Test
    void invocationsThatFailAsAWholeAreReportedWithTheirExitStatusAndTheReason(@TempDir Path results) throws Exception {
        Outcome o = run(results, invocation("no match", "NoSuchBench"),
                new Suite.Invocation("bad arguments", List.of("FixtureBench.fine$", "-f", "many"), Map.of()),
                invocation("fine", "FixtureBench.fine$"));

        assertEquals(1, o.exit(), o.console());
        assertEquals(1, o.run().results().size(), "the invocation after the failed ones ran");
        List<Failure> f = o.run().failures();
        assertEquals(2, f.size(), f.toString());
        assertEquals(Failure.Kind.INVOCATION, f.get(0).kind());
        assertEquals(1, f.get(0).exitStatus());
        assertTrue(f.get(0).what().startsWith("the JMH invocation failed: exit status 1: no benchmark matches [NoSuchBench]"),
                f.get(0).what());
        assertEquals(Failure.Kind.INVOCATION, f.get(1).kind());
        assertEquals(2, f.get(1).exitStatus());
        assertTrue(f.get(1).what().contains("JMH refused the arguments"), f.get(1).what());
        assertTrue(o.md().contains("### the invocation 'no match'"), o.md());
        // Every ratio's reason names the failed invocations: they may have held its benchmarks.
        assertTrue(o.md().contains("n/a: not in this run (rseqCpuId, plainLoad); the invocation 'no match' failed"
                + " (exit status 1); the invocation 'bad arguments' failed (exit status 2)"), o.md());
        assertNoParts(results);
    }

    @Test
    void aJmhHostThatDiesIsReportedWithTheBenchmarkItWasRunningAndTheSuiteGoesOn(@TempDir Path results) throws Exception {
        Outcome o = run(results, invocation("host killed", "FixtureBench.killsItsHost$"),
                invocation("after", "FixtureBench.fine$"));
        assertEquals(1, o.exit(), o.console());
        assertEquals(1, o.run().results().size(), "the next invocation ran");
        Failure f = o.run().failures().get(0);
        assertEquals(1, o.run().failures().size(), o.run().failures().toString());
        assertEquals(Failure.Kind.INVOCATION, f.kind());
        assertEquals(137, f.exitStatus(), "SIGKILL");
        assertEquals("FixtureBench.killsItsHost", f.label(), "the benchmark the host was running");
        assertEquals(List.of("the JMH host exited with status 137"), f.detail());
        assertTrue(o.md().contains("n/a: not in this run") && o.md().contains("### FixtureBench.killsItsHost\n\nIn the"
                + " invocation 'host killed': the JMH invocation failed: exit status 137 (SIGKILL): the JMH host exited"
                + " with status 137."), o.md());
        assertNoParts(results);
    }

    @Test
    void aCompleteRunExitsZeroWithoutAFailuresFileAndRemovesAStaleOne(@TempDir Path results) throws Exception {
        Path stale = Run.failuresFile(results.resolve("latest.json"));
        Files.writeString(stale, "{\"failures\": []}");
        Outcome o = run(results, invocation("fine", "FixtureBench.fine$"));
        assertEquals(0, o.exit(), o.console());
        assertFalse(Files.exists(stale), "a failures file from an earlier run would be read as this run's");
        assertFalse(o.md().contains("## Failures"), o.md());
        assertEquals(List.of(), o.run().failures());
    }
}
