package dev.pkrseq.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import dev.pkrseq.rseq.Rseq;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Usage errors and notes that help: what was wrong, and what would be right. */
class CliUsageTest {
    @Test
    void onlyThatMatchesNoExperimentExitsTwoAndListsThePrefixes() {
        ProbeCommandTest.Run r = new ProbeCommandTest.Run("probe", "--only", "nothing.");
        assertEquals(Main.EXIT_USAGE, r.status);
        assertEquals("", r.out);
        assertTrue(r.err.startsWith("pkrseq: --only nothing. matches no experiment; the ids start with pkey., rseq., tls."),
                r.err);
    }

    @Test
    void onlyWithOneMistypedPrefixAmongGoodOnesExitsTwo() {
        ProbeCommandTest.Run r = new ProbeCommandTest.Run("probe", "--only", "rseq.,pkye.");
        assertEquals(Main.EXIT_USAGE, r.status);
        assertTrue(r.err.startsWith("pkrseq: --only pkye. matches no experiment"), r.err);
    }

    @Test
    void registerBesideGlibcSaysItDidNotRegisterAndWhy() {
        Features.assumeRseq();
        Assumptions.assumeTrue(Rseq.glibcSize() > 0, "glibc registers no rseq here");
        ProbeCommandTest.Run r = new ProbeCommandTest.Run("rseq", "--register");
        assertEquals(0, r.status, r.err);
        assertTrue(r.err.startsWith("pkrseq: rseq: --register did not register: glibc registered this thread already"),
                r.err);
        assertTrue(r.err.contains("EINVAL") && r.err.contains("GLIBC_TUNABLES=glibc.pthread.rseq=0"), r.err);
    }

    @Test
    void mistypedCommandSuggestsTheNearest() {
        ProbeCommandTest.Run r = new ProbeCommandTest.Run("prob");
        assertEquals(Main.EXIT_USAGE, r.status);
        assertEquals("pkrseq: unknown command 'prob'; did you mean probe? (see 'pkrseq --help')\n", r.err);
    }

    @Test
    void mistypedOptionSuggestsTheNearest() {
        ProbeCommandTest.Run r = new ProbeCommandTest.Run("probe", "--jsno");
        assertEquals(Main.EXIT_USAGE, r.status);
        assertTrue(r.err.contains("; did you mean --json?"), r.err);
    }

    @Test
    void aWordFarFromEveryCommandSuggestsNothing() {
        ProbeCommandTest.Run r = new ProbeCommandTest.Run("frobnicate");
        assertEquals(Main.EXIT_USAGE, r.status);
        assertTrue(!r.err.contains("did you mean"), r.err);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "probe", "pkeys", "tls", "rseq", "watch", "percpu", "shell"})
    void helpEndsWithTheExitCodesAndFitsEightyColumns(String command) {
        ProbeCommandTest.Run r = command.isEmpty() ? new ProbeCommandTest.Run("--help")
                : new ProbeCommandTest.Run(command, "--help");
        assertEquals(0, r.status, r.err);
        assertTrue(r.out.matches("(?s).*\nExit codes:\n  0 .*\n  2     Usage error[^\n]*\n.*"), r.out);
        assertTrue(r.out.stripTrailing().endsWith("143   Ended by SIGTERM, after cleaning up."), r.out);
        r.out.lines().forEach(l -> assertTrue(l.length() <= 80, "longer than 80 columns: " + l));
    }

    @Test
    void optionTextsWrapOnlyAtTheWidth() {
        // A description split by hand shows as a short line followed by a continuation: "covers mm_cid and" / "node_id".
        // picocli fills a line up to column 79.
        ProbeCommandTest.Run r = new ProbeCommandTest.Run("watch", "--help");
        List<String> lines = r.out.lines().toList();
        for (int i = 0; i + 1 < lines.size(); i++) {
            String next = lines.get(i + 1);
            if (next.startsWith("                         ") && !next.isBlank()) {
                String firstWord = next.strip().split(" ")[0];
                assertTrue(lines.get(i).length() + 1 + firstWord.length() >= 80,
                        "line " + i + " broke early:\n" + lines.get(i) + "\n" + next);
            }
        }
    }

    @Test
    void completionPrintsABashScriptForEveryCommand() {
        ProbeCommandTest.Run r = new ProbeCommandTest.Run("generate-completion");
        assertEquals(0, r.status, r.err);
        assertTrue(r.out.startsWith("#!/usr/bin/env bash"), r.out);
        assertTrue(r.out.contains("complete -F _complete_pkrseq -o default pkrseq"), r.out);
        for (String c : List.of("probe", "pkeys", "tls", "rseq", "watch", "percpu")) {
            assertTrue(r.out.contains(c), c);
        }
        assertTrue(r.out.contains("--only"), "options complete too");
    }
}
