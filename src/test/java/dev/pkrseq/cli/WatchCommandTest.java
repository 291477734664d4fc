package dev.pkrseq.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pkrseq.observe.RseqWatch;
import dev.pkrseq.rseq.RseqRegistry;
import dev.pkrseq.sys.Sys;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code pkrseq watch}: JSON lines, plain lines, option checks, and the own-registration rerun. */
class WatchCommandTest {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    @Test
    void jsonLinesParseAndCarryTidCpuIdMmCidNodeIdAndMigrations() throws Exception {
        Features.assumeRseq();
        ProbeCommandTest.Run r = new ProbeCommandTest.Run("watch", "--json", "--samples", "3", "--interval", "20ms",
                "--threads", "2", "--workload", "sleep");
        assertEquals(0, r.status, r.err);
        List<String> lines = r.out.lines().toList();
        assertEquals(6, lines.size(), r.out);
        for (String line : lines) {
            JsonNode j = MAPPER.readTree(line);
            assertTrue(j.get("tid").isInt(), line);
            assertTrue(j.get("cpuId").isInt() && j.get("cpuId").asInt() >= 0 && j.get("cpuId").asInt() < Sys.onlineCpus(), line);
            assertTrue(j.has("mmCid") && j.get("mmCid").isNull(), "glibc's area does not cover mm_cid: " + line);
            assertTrue(j.has("nodeId") && j.get("nodeId").isNull(), line);
            assertTrue(j.get("migrations").isIntegralNumber(), line);
            assertEquals("glibc", j.get("owner").asText());
        }
        assertEquals(List.of(1, 1, 2, 2, 3, 3), lines.stream().map(l -> read(l).get("sample").asInt()).toList());
        Set<Integer> tids = lines.stream().map(l -> read(l).get("tid").asInt()).collect(Collectors.toSet());
        assertEquals(2, tids.size());
        assertEquals(0, RseqRegistry.registeredCount());
    }

    @Test
    void plainOutputIsLinesWithoutTerminalEscapes() {
        Features.assumeRseq();
        ProbeCommandTest.Run r = new ProbeCommandTest.Run("watch", "--samples", "2", "--interval", "20ms", "--threads", "1",
                "--workload", "yield");
        assertEquals(0, r.status, r.err);
        assertFalse(r.out.contains("\u001b"), r.out);
        assertTrue(r.out.startsWith("pkrseq watch: 1 thread, workload yield"), r.out);
        assertTrue(r.out.contains("sample 1 at ") && r.out.contains("sample 2 at "), r.out);
        assertTrue(r.out.contains("THREAD  TID"), r.out);
        assertTrue(r.out.contains("mm_cid and node_id not covered"), r.out);
    }

    @Test
    void durationEndsTheWatch() throws Exception {
        Features.assumeRseq();
        ProbeCommandTest.Run r = new ProbeCommandTest.Run("watch", "--json", "--duration", "100ms", "--interval", "40ms",
                "--threads", "1", "--workload", "sleep");
        assertEquals(0, r.status, r.err);
        List<String> lines = r.out.lines().toList();
        // Samples at 40, 80 and 100 ms: the last one at the end of the duration.
        assertEquals(3, lines.size(), r.out);
        assertTrue(MAPPER.readTree(lines.get(2)).get("elapsedMillis").asLong() >= 100);
    }

    @Test
    void ownRegistrationBesideGlibcRerunsInAChildWhereMmCidIsCovered() throws Exception {
        Features.assumeRseq();
        Features.assumeMmCid();
        ProbeCommandTest.Run r = new ProbeCommandTest.Run("watch", "--own-registration", "--json", "--samples", "2",
                "--interval", "50ms", "--threads", "2", "--workload", "spin");
        assertEquals(0, r.status, r.err);
        List<String> lines = r.out.lines().toList();
        assertEquals(4, lines.size(), r.out + r.err);
        for (String line : lines) {
            JsonNode j = MAPPER.readTree(line);
            assertEquals("pkrseq", j.get("owner").asText(), line);
            int cid = j.get("mmCid").asInt(-1);
            assertTrue(cid >= 0 && cid < Sys.onlineCpus(), line);
            assertTrue(j.get("nodeId").asInt(-1) >= 0, line);
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
        assertEquals(2, r.status, r.err);
        assertEquals(1, r.err.lines().count(), r.err);
        assertTrue(r.err.startsWith("pkrseq: "), r.err);
        assertTrue(r.err.contains(message), r.err);
        assertEquals("", r.out);
    }

    @Test
    void moreThreadsThanTheCpusCanServeIsAUsageErrorThatSaysWhy() {
        int max = RseqWatch.maxThreads();
        assertEquals(Math.min(RseqWatch.MAX_THREADS, RseqWatch.MAX_THREADS_PER_CPU
                * Sys.schedGetaffinity(0).cardinality()), max);
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
                // /proc/<pid>/task/<tid>/sched names the policy; SCHED_IDLE is 5.
                String sched = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/self/task/" + s.tid() + "/sched"));
                assertTrue(sched.lines().anyMatch(l -> l.matches("policy\\s+:\\s+5")), sched);
            }
        }
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

    private static JsonNode read(String line) {
        try {
            return MAPPER.readTree(line);
        } catch (Exception e) {
            throw new AssertionError(line, e);
        }
    }
}
