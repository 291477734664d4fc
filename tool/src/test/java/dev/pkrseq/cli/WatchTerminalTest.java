package dev.pkrseq.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code watch} in a real terminal emulator: tmux, on a server of this test's own, at a given size. After
 * the last sample the screen's history holds one frame: each redraw replaced the last.
 */
class WatchTerminalTest {
    private static final String SOCKET = "pkrseq-watch-test-" + ProcessHandle.current().pid();

    @ParameterizedTest(name = "{0} columns, {1} rows, {2} workers")
    @CsvSource({"60, 20, 4", "60, 20, 40", "200, 50, 12"})
    void watchRedrawsInPlaceAndFitsTheTerminal(int columns, int rows, int workers) throws Exception {
        String history = watchIn(columns, rows, workers, "");
        assertEquals(1, history.lines().filter(l -> l.startsWith("sample ")).count(),
                "one frame in the terminal's history, the last:\n" + history);
        for (String l : history.lines().toList()) {
            assertTrue(l.stripTrailing().length() < columns, "wider than " + (columns - 1) + ": " + l);
        }
    }

    /** Broken twin: told the terminal is 300 columns wide, watch lays out lines that wrap, and frames pile up. */
    @Test
    void framesLaidOutWiderThanTheTerminalPileUp() throws Exception {
        String history = watchIn(60, 20, 4, "COLUMNS=300");
        assertTrue(history.lines().filter(l -> l.startsWith("sample ")).count() > 1,
                "the check above would catch frames that wrap:\n" + history);
    }

    /** Runs watch in a tmux window of the given size; returns the window's history after the last sample. */
    private static String watchIn(int columns, int rows, int workers, String env) throws Exception {
        Features.assumeRseq();
        assumeTrue(tmux("-V").status == 0, "tmux is not installed");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String command = String.join(" ", "env -u COLUMNS -u LINES", env, java, "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), Main.class.getName(), "watch", "--threads",
                Integer.toString(workers), "--interval", "200ms", "--samples", "6", "--workload", "sleep", "; sleep 60");
        try {
            String[] newSession = {"new-session", "-d", "-x", Integer.toString(columns), "-y", Integer.toString(rows), "-s",
                "watch", command};
            Result started = tmux(newSession);
            if (started.status != 0) {
                // Once in a full build the tmux server failed to start; the terminal, not watch, is at fault then.
                tmux("kill-server");
                Thread.sleep(1000);
                Result again = tmux(newSession);
                assertEquals(0, again.status, "tmux new-session failed twice: " + started.out + " / " + again.out);
            }
            String history = "";
            for (long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60); System.nanoTime() < end
                    && !history.contains("sample 6 at"); Thread.sleep(200)) {
                history = tmux("capture-pane", "-p", "-S", "-2000", "-t", "watch").out;
            }
            assertTrue(history.contains("sample 6 at"), history);
            return history;
        } finally {
            tmux("kill-server");
        }
    }

    @Test
    void manyCpusShareTheColumnAsTheLargestSharesAndACount() {
        Map<Integer, Long> samples = new TreeMap<>();
        for (int cpu = 0; cpu < 64; cpu++) {
            samples.put(cpu, cpu == 7 ? 40L : 1L);
        }
        String s = WatchFrame.share(samples, 103, 30);
        assertTrue(s.length() <= 30, s);
        assertTrue(s.startsWith("cpu7 39% "), s);
        assertTrue(s.matches(".* \\+\\d+ more"), s);
    }

    @Test
    void aShareColumnTooNarrowForOneCpuCountsThem() {
        assertEquals("+3 CPUs", WatchFrame.share(Map.of(0, 1L, 1, 1L, 2, 1L), 3, 8));
    }

    private record Result(int status, String out) {
    }

    private static Result tmux(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("tmux", "-L", SOCKET));
        cmd.addAll(List.of(args));
        Process p;
        try {
            p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        } catch (IOException noTmux) {
            return new Result(127, noTmux.getMessage());
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        return new Result(p.exitValue(), out);
    }
}
