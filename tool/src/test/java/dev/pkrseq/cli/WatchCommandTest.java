package dev.pkrseq.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

import com.fasterxml.jackson.databind.JsonNode;
import dev.pkrseq.lab.rseq.RseqWatch;
import dev.pkrseq.rseq.RseqRegistry;
import dev.pkrseq.Platform;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code pkrseq watch}: JSON lines, plain lines, option checks, and the own-registration rerun. */
class WatchCommandTest {
    @Test
    void jsonLinesParseAndCarryTidCpuIdMmCidNodeIdAndMigrations() {
        Features.assumeRseq();
        List<JsonNode> samples = Commands.jsonLines(6, "watch", "--json", "--samples", "3", "--interval", "20ms",
                "--threads", "2", "--workload", "sleep");
        for (JsonNode j : samples) {
            assertTrue(j.get("thread").get("tid").isInt(), j.toString());
            assertTrue(j.get("cpuId").isInt() && j.get("cpuId").asInt() >= 0 && j.get("cpuId").asInt() < Platform.onlineCpus(),
                    j.toString());
            assertTrue(j.has("mmCid") && j.get("mmCid").isNull(), "glibc's area does not cover mm_cid: " + j);
            assertTrue(j.has("nodeId") && j.get("nodeId").isNull(), j.toString());
            assertTrue(j.get("migrations").isIntegralNumber(), j.toString());
            assertEquals("glibc", j.get("owner").asText());
        }
        assertEquals(List.of(1, 1, 2, 2, 3, 3), samples.stream().map(j -> j.get("sample").asInt()).toList());
        Set<Integer> tids = samples.stream().map(j -> j.get("thread").get("tid").asInt()).collect(Collectors.toSet());
        assertEquals(2, tids.size());
        assertEquals(0, RseqRegistry.registeredCount());
    }

    @Test
    void plainOutputIsLinesWithoutTerminalEscapes() {
        Features.assumeRseq();
        ProbeCommandTest.Run r = Commands.ok("watch", "--samples", "2", "--interval", "20ms", "--threads", "1",
                "--workload", "yield");
        assertFalse(r.out.contains("\u001b"), r.out);
        assertTrue(r.out.startsWith("pkrseq watch: 1 thread, workload yield"), r.out);
        assertTrue(r.out.contains("sample 1 at ") && r.out.contains("sample 2 at "), r.out);
        assertTrue(r.out.contains("THREAD  TID"), r.out);
        assertTrue(r.out.contains("mm_cid and node_id not covered"), r.out);
    }

    @Test
    void durationEndsTheWatch() {
        Features.assumeRseq();
        // Samples at 40, 80 and 100 ms: the last one at the end of the duration.
        List<JsonNode> samples = Commands.jsonLines(3, "watch", "--json", "--duration", "100ms", "--interval", "40ms",
                "--threads", "1", "--workload", "sleep");
        assertTrue(samples.get(2).get("elapsedMillis").asLong() >= 100, samples.get(2).toString());
    }

    @Test
    void ownRegistrationBesideGlibcRerunsInAChildWhereMmCidIsCovered() {
        Features.assumeRseq();
        Features.assumeMmCid();
        for (JsonNode j : Commands.jsonLines(4, "watch", "--own-registration", "--json", "--samples", "2",
                "--interval", "50ms", "--threads", "2", "--workload", "spin")) {
            assertEquals("pkrseq", j.get("owner").asText(), j.toString());
            int cid = j.get("mmCid").asInt(-1);
            assertTrue(cid >= 0 && cid < Platform.onlineCpus(), j.toString());
            assertTrue(j.get("nodeId").asInt(-1) >= 0, j.toString());
        }
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "--threads|0|, not 0 (see 'pkrseq watch --help')",
        "--threads|-3|, not -3 (see 'pkrseq watch --help')",
        "--samples|0|--samples must be at least 1, not 0",
        "--interval|0|--interval must be at least 1ms, not 0ms",
        "--interval|-5ms|'-5ms' is not a duration",
        "--duration|soon|'soon' is not a duration",
        "--duration|0s|--duration must be positive",
        "--workload|nap|'nap' is not a workload: choose spin, yield or sleep",
        "--threads|many|'many' is not an int"})
    void badOptionIsAUsageErrorInOneLine(String option, String value, String message) {
        // A second limit keeps a check that does not fire from running until Ctrl-C.
        ProbeCommandTest.Run r = option.equals("--samples") ? new ProbeCommandTest.Run("watch", option, value, "--duration", "1s")
                : new ProbeCommandTest.Run("watch", option, value, "--samples", "1");
        Commands.assertUsageError(r, message);
    }

    @Test
    void moreThreadsThanTheCpusCanServeIsAUsageErrorThatSaysWhy() {
        int max = RseqWatch.maxThreads();
        assertEquals(Math.min(RseqWatch.MAX_THREADS, RseqWatch.MAX_THREADS_PER_CPU
                * Platform.allowedCpus()), max);
        ProbeCommandTest.Run r = new ProbeCommandTest.Run("watch", "--threads", Integer.toString(max + 1), "--samples", "1");
        assertEquals(2, r.status, r.err);
        assertEquals("pkrseq: --threads must be 1 to " + max + " here (" + RseqWatch.maxThreadsReason() + "), not " + (max + 1)
                + " (see 'pkrseq watch --help')\n", r.err);
        assertTrue(RseqWatch.maxThreadsReason().contains("too little CPU"), RseqWatch.maxThreadsReason());
    }

    @Test
    void workersRunUnderSchedIdle() throws Exception {
        Features.assumeRseq();
        try (RseqWatch w = RseqWatch.start(2, RseqWatch.Workload.SLEEP)) {
            for (RseqWatch.ThreadSample s : w.sample()) {
                assertEquals("5", schedPolicy(s.tid()), "SCHED_IDLE is 5; worker tid " + s.tid());
            }
        }
    }

    /** The number on the "policy" line of /proc/self/task/TID/sched, or the file where it has none. */
    private static String schedPolicy(int tid) throws IOException {
        String sched = Files.readString(Path.of("/proc/self/task/" + tid + "/sched"));
        return sched.lines().filter(l -> l.matches("policy\\s+:\\s+\\d+")).map(l -> l.substring(l.indexOf(':') + 1).strip())
                .findFirst().orElse(sched);
    }

    @Test
    void watchHasHelpNamingEveryOption() {
        ProbeCommandTest.Run r = new ProbeCommandTest.Run("watch", "--help");
        assertEquals(0, r.status);
        for (String o : List.of("--threads", "--workload", "--interval", "--duration", "--samples", "--json",
                "--own-registration")) {
            assertTrue(r.out.contains(o), o);
        }
    }
}
