package dev.pkrseq.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;

import com.fasterxml.jackson.databind.JsonNode;
import dev.pkrseq.lab.rseq.PerCpuStress;
import dev.pkrseq.rseq.PerCpuCounter;
import dev.pkrseq.Platform;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code pkrseq percpu}: the report, its JSON, the exit status, and option checks. */
class PercpuCommandTest {
    @Test
    void textReportShowsExpectedSumRestartsAndTimePerAdd() {
        Features.assumeRseq();
        ProbeCommandTest.Run r = Commands.ok("percpu", "--threads", "4", "--adds", "100000", "--quiet");
        assertTrue(r.out.startsWith("pkrseq percpu: 4 threads × 100000 adds of 1, while a disturber moves them"), r.out);
        assertTrue(r.out.contains("expected          400000\n"), r.out);
        assertTrue(r.out.contains("sum               400000 (exact)\n"), r.out);
        assertTrue(r.out.matches("(?s).*restarts          \\d+ .*"), r.out);
        assertTrue(r.out.matches("(?s).*time per add      \\d+\\.\\d\\d ns .*"), r.out);
        assertTrue(r.out.contains("registration      glibc: the code finds struct rseq at %fs:0x"), r.out);
        assertEquals("", r.err);
    }

    @Test
    void jsonIsOneObjectWithExpectedSumRestartsAndNanosPerAdd() {
        Features.assumeRseq();
        JsonNode j = Commands.json("percpu", "--threads", "3", "--adds", "50000", "--json");
        assertEquals(150_000, j.get("expected").asLong());
        assertEquals(150_000, j.get("sum").asLong());
        assertTrue(j.get("exact").asBoolean());
        assertTrue(j.get("restarts").isIntegralNumber() && j.get("restarts").asLong() >= 0);
        assertTrue(j.get("nanosPerAdd").isNumber() && j.get("nanosPerAdd").asDouble() > 0, j.toString());
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
    void noDisturberRunsUndisturbed() {
        Features.assumeRseq();
        JsonNode j = Commands.json("percpu", "--threads", "1", "--adds", "10000", "--json", "--no-disturber");
        assertTrue(!j.get("disturbed").asBoolean());
        assertEquals(0, j.get("affinityChanges").asLong());
        assertEquals(10_000, j.get("sum").asLong());
    }

    @Test
    void codePrintsTheLiveListing() {
        Features.assumeRseq();
        ProbeCommandTest.Run r = Commands.ok("percpu", "--code");
        assertTrue(r.out.startsWith("page 0x"), r.out);
        assertTrue(r.out.contains("add_tp_cpu_start:") && r.out.contains("0f b9 3d") && r.out.contains("53 30 05 53"), r.out);
        assertTrue(r.out.contains("cmp $" + new PerCpuCounter().slots() + ",%r11d"), r.out);
    }

    @Test
    void moreThreadsThanTheCpusCanServeIsAUsageErrorThatSaysWhy() {
        int max = PerCpuStress.maxThreads();
        assertEquals(Math.min(PerCpuStress.MAX_THREADS, PerCpuStress.MAX_THREADS_PER_CPU
                * Platform.allowedCpus()), max);
        ProbeCommandTest.Run r = new ProbeCommandTest.Run("percpu", "--threads", Integer.toString(max + 1));
        assertEquals(2, r.status, r.err);
        assertEquals("pkrseq: --threads must be 1 to " + max + " here (" + PerCpuStress.maxThreadsReason() + "), not "
                + (max + 1) + " (see 'pkrseq percpu --help')\n", r.err);
    }

    @Test
    void runSizesOutOfRangeAreRefusedBeforeAnyThreadStarts() {
        PerCpuStress.Target t = target(() -> {
            throw new AssertionError("no add may run");
        }, () -> 0);
        int max = PerCpuStress.maxThreads();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PerCpuStress.run(t, max + 1, 1, false));
        assertEquals("threads must be 1 to " + max + " here (" + PerCpuStress.maxThreadsReason() + "), not " + (max + 1),
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> PerCpuStress.run(t, 2, PerCpuStress.MAX_TOTAL_ADDS, false));
        assertEquals("2 threads × 10000000000 adds is more than 10000000000 adds in all, about a minute of work on two"
                + " CPUs: make fewer", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> PerCpuStress.run(t, 1, 0, false));
        assertFalse(Thread.getAllStackTraces().keySet().stream().anyMatch(th -> th.getName().startsWith("pkrseq-percpu-")));
    }

    @Test
    void aRunStartedFromInsideARunsOwnWorkerIsRefused() throws Exception {
        AtomicReference<Throwable> nested = new AtomicReference<>();
        AtomicLong n = new AtomicLong();
        PerCpuStress.Target inner = target(n::incrementAndGet, n::get);
        PerCpuStress.Target outer = target(() -> {
            if (n.getAndIncrement() == 0) {
                try {
                    PerCpuStress.run(inner, 2, 1, false);
                } catch (Throwable e) {
                    nested.set(e);
                }
            }
        }, n::get);
        PerCpuStress.Result r = PerCpuStress.run(outer, 2, 10, false);
        assertEquals(20, r.sum(), "the outer run counted its own adds only");
        assertTrue(nested.get() instanceof IllegalStateException, String.valueOf(nested.get()));
        assertTrue(nested.get().getMessage().startsWith("PerCpuStress.run refused on thread 'pkrseq-percpu-"),
                nested.get().getMessage());
    }

    /** A target whose adds run {@code add} and whose sum is {@code sum}; it never restarts. */
    private static PerCpuStress.Target target(Runnable add, LongSupplier sum) {
        return new PerCpuStress.Target() {
            @Override
            public void increment() {
                add.run();
            }

            @Override
            public long sum() {
                return sum.getAsLong();
            }

            @Override
            public long restarts() {
                return 0;
            }
        };
    }

    @ParameterizedTest
    @CsvSource(delimiter = ';', value = {
            "--threads;0;, not 0 (see 'pkrseq percpu --help')",
            "--threads;4097;, not 4097 (see 'pkrseq percpu --help')",
            "--adds;0;--adds must be at least 1, not 0",
            "--adds;-3;--adds must be at least 1, not -3",
            "--adds;lots;Invalid value for option '--adds'",
            "--adds;2000000000;--threads 8 × --adds 2000000000 is more than 10000000000 adds in all, about a minute of"
                    + " work on two CPUs: make fewer"})
    void badValueIsAOneLineUsageError(String option, String value, String message) {
        ProbeCommandTest.Run r = option.equals("--adds") ? new ProbeCommandTest.Run("percpu", "--threads", "8", option, value)
                : new ProbeCommandTest.Run("percpu", option, value);
        Commands.assertUsageError(r, message);
    }
}
