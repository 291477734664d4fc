package dev.pkrseq.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;

import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Test;

/** Long commands say on stderr what they are doing, and only there. */
class CliProgressTest {
    @Test
    void probeNamesEachExperimentOnStderrAsItStartsAndLeavesStdoutToTheReport() throws Exception {
        Features.assumeRseq();
        ProbeCommandTest.Run r = new ProbeCommandTest.Run("probe", "--json", "--only", "rseq.cpu,rseq.unregister");
        assertEquals(0, r.status, r.err);
        assertEquals(List.of("pkrseq probe: 1 of 2: rseq.cpu-matches-getcpu", "pkrseq probe: 2 of 2: rseq.unregister"),
                r.err.lines().toList());
        assertEquals(2, CliJsonTest.parse(r.out).get("experiments").size());
    }

    @Test
    void progressOffATerminalIsPlainLinesWithoutEscapeCodes() {
        Features.assumeRseq();
        ProbeCommandTest.Run r = new ProbeCommandTest.Run("tls", "--threads");
        assertEquals(0, r.status, r.err);
        assertFalse(r.err.isEmpty());
        assertFalse(r.err.contains("\u001b") || r.err.contains("\r"), r.err);
        r.err.lines().forEach(l -> assertTrue(l.matches("pkrseq tls: \\d+ of \\d+: .+"), l));
    }

    @Test
    void quietPrintsNothingOnStderr() {
        Features.assumeRseq();
        for (List<String> args : List.of(List.of("probe", "--only", "rseq.cpu", "--quiet"), List.of("tls", "--threads", "-q"),
                List.of("percpu", "--adds", "1000", "--quiet"), List.of("rseq", "--register", "--quiet"))) {
            ProbeCommandTest.Run r = new ProbeCommandTest.Run(args.toArray(String[]::new));
            assertEquals(0, r.status, r.err);
            assertEquals("", r.err, args.toString());
        }
    }

    @Test
    void onATerminalEachStepReplacesTheLastAndIsErasedBeforeTheReport() {
        StringWriter s = new StringWriter();
        try (Progress p = new Progress(new PrintWriter(s), "pkrseq probe", false, true)) {
            p.step(1, 2, "a");
            p.step(2, 2, "b");
        }
        assertEquals("\r\u001b[Kpkrseq probe: 1 of 2: a\r\u001b[Kpkrseq probe: 2 of 2: b\r\u001b[K", s.toString());
    }

    @Test
    void aNoteStaysOnItsOwnLine() {
        StringWriter s = new StringWriter();
        try (Progress p = new Progress(new PrintWriter(s), "pkrseq rseq", false, true)) {
            p.step(1, 1, "a");
            p.note("something to keep");
        }
        assertEquals("\r\u001b[Kpkrseq rseq: 1 of 1: a\r\u001b[Kpkrseq: rseq: something to keep\n", s.toString());
    }
}
