package dev.pkrseq.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pkrseq.rseq.PerCpuCounter;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code pkrseq percpu}: the report, its JSON, the exit status, and option checks. */
class PercpuCommandTest {
    @Test
    void textReportShowsExpectedSumRestartsAndTimePerAdd() {
        Features.assumeRseq();
        ProbeCommandTest.Run r = new ProbeCommandTest.Run("percpu", "--threads", "4", "--adds", "100000");
        assertEquals(0, r.status, r.err);
        assertTrue(r.out.startsWith("pkrseq percpu: 4 threads × 100000 adds of 1, while a disturber moves them"), r.out);
        assertTrue(r.out.contains("expected          400000\n"), r.out);
        assertTrue(r.out.contains("sum               400000 (exact)\n"), r.out);
        assertTrue(r.out.matches("(?s).*restarts          \\d+ .*"), r.out);
        assertTrue(r.out.matches("(?s).*time per add      \\d+\\.\\d\\d ns .*"), r.out);
        assertTrue(r.out.contains("registration      glibc: the code finds struct rseq at %fs:0x"), r.out);
        assertEquals("", r.err);
    }

    @Test
    void jsonIsOneObjectWithExpectedSumRestartsAndNanosPerAdd() throws Exception {
        Features.assumeRseq();
        ProbeCommandTest.Run r = new ProbeCommandTest.Run("percpu", "--threads", "3", "--adds", "50000", "--json");
        assertEquals(0, r.status, r.err);
        JsonNode j = new ObjectMapper().readTree(r.out);
        assertEquals(150_000, j.get("expected").asLong());
        assertEquals(150_000, j.get("sum").asLong());
        assertTrue(j.get("exact").asBoolean());
        assertTrue(j.get("restarts").isIntegralNumber() && j.get("restarts").asLong() >= 0);
        assertTrue(j.get("nanosPerAdd").isNumber() && j.get("nanosPerAdd").asDouble() > 0, r.out);
        assertEquals("glibc", j.get("owner").asText());
        assertEquals(j.get("slots").asInt(), j.get("perCpu").size());
        long total = 0;
        for (JsonNode n : j.get("perCpu")) {
            total += n.asLong();
        }
        assertEquals(150_000, total);
        assertTrue(j.get("disturbed").asBoolean());
    }

    @Test
    void noDisturberRunsUndisturbed() throws Exception {
        Features.assumeRseq();
        ProbeCommandTest.Run r = new ProbeCommandTest.Run("percpu", "--threads", "1", "--adds", "10000", "--json",
                "--no-disturber");
        assertEquals(0, r.status, r.err);
        JsonNode j = new ObjectMapper().readTree(r.out);
        assertTrue(!j.get("disturbed").asBoolean());
        assertEquals(0, j.get("affinityChanges").asLong());
        assertEquals(10_000, j.get("sum").asLong());
    }

    @Test
    void codePrintsTheLiveListing() {
        Features.assumeRseq();
        ProbeCommandTest.Run r = new ProbeCommandTest.Run("percpu", "--code");
        assertEquals(0, r.status, r.err);
        assertTrue(r.out.startsWith("page 0x"), r.out);
        assertTrue(r.out.contains("add_tp_cpu_start:") && r.out.contains("0f b9 3d") && r.out.contains("53 30 05 53"), r.out);
        assertTrue(r.out.contains("cmp $" + new PerCpuCounter().slots() + ",%r11d"), r.out);
    }

    @ParameterizedTest
    @CsvSource(delimiter = ';', value = {
            "--threads;0;--threads must be 1 to 4096, not 0",
            "--adds;0;--adds must be at least 1, not 0",
            "--adds;-3;--adds must be at least 1, not -3",
            "--adds;lots;Invalid value for option '--adds'"})
    void badValueIsAOneLineUsageError(String option, String value, String message) {
        ProbeCommandTest.Run r = new ProbeCommandTest.Run("percpu", option, value);
        assertEquals(2, r.status, r.err);
        assertEquals(1, r.err.lines().count(), r.err);
        assertTrue(r.err.startsWith("pkrseq: ") && r.err.contains(message), r.err);
        assertEquals("", r.out);
    }
}
