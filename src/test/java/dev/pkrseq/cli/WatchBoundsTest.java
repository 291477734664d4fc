package dev.pkrseq.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import dev.pkrseq.observe.ChildJvm;
import dev.pkrseq.observe.RseqWatch;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code watch} at the most busy workers it accepts here ({@link RseqWatch#maxThreads()}: 1024 on two
 * CPUs), as a real process: its first sample comes within a bound of a one-thread watch's, and SIGTERM or
 * SIGINT ends it within a bound. The bounds are functional: five seconds, or twice what the one-thread
 * watch took where the machine is so loaded that this is more (by hand, on two CPUs shared with other
 * work, about a second for both). Before the fix the first sample at 1024 spinning workers never came
 * within a minute, and SIGTERM took about a minute. The broken twin, a watch whose first sample is due
 * later than the bound, shows that the measurement can fail.
 */
class WatchBoundsTest {
    private static final Duration BOUND = Duration.ofSeconds(5);
    private static final long LIMIT_SECONDS = 60;

    /**
     * One watch: when its first sample line came, and how it ended after the signal.
     *
     * @param firstSample from the start to the first "sample 1" line
     * @param exitAfterSignal from the signal to the exit
     * @param status its exit status
     * @param lines what it printed, for messages
     */
    record Timing(Duration firstSample, Duration exitAfterSignal, int status, List<String> lines) {
    }

    private static Timing watch(String signal, String... args) throws Exception {
        List<String> cmd = ChildJvm.of(Main.class).args("watch").args(args).command();
        long start = System.nanoTime();
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        List<String> lines = new ArrayList<>();
        CompletableFuture<Long> first = new CompletableFuture<>();
        Thread reader = Thread.ofPlatform().daemon(true).start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String l;
                while ((l = r.readLine()) != null) {
                    if (l.startsWith("sample 1 at ")) {
                        first.complete(System.nanoTime());
                    }
                    if (!l.startsWith("  ")) {
                        synchronized (lines) {
                            lines.add(l);
                        }
                    }
                }
            } catch (Exception e) {
                first.completeExceptionally(e);
            }
            first.completeExceptionally(new AssertionError("no first sample: " + lines));
        });
        try {
            long firstAt = first.get(LIMIT_SECONDS, TimeUnit.SECONDS);
            long signalled = System.nanoTime();
            Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(p.pid())).inheritIO().start();
            assertEquals(0, kill.waitFor());
            assertTrue(p.waitFor(LIMIT_SECONDS, TimeUnit.SECONDS), "still running " + LIMIT_SECONDS + " s after SIG" + signal);
            long exited = System.nanoTime();
            reader.join(10_000);
            synchronized (lines) {
                return new Timing(Duration.ofNanos(firstAt - start), Duration.ofNanos(exited - signalled), p.exitValue(),
                        List.copyOf(lines));
            }
        } finally {
            p.destroyForcibly();
        }
    }

    @ParameterizedTest
    @CsvSource({"TERM, 143", "INT, 130"})
    void mostSpinningWorkersGiveTheFirstSampleAndEndWithinTheBound(String signal, int status) throws Exception {
        Features.assumeRseq();
        Timing one = watch(signal, "--threads", "1", "--workload", "spin");
        Timing most = watch(signal, "--threads", Integer.toString(RseqWatch.maxThreads()), "--workload", "spin");
        Duration extra = most.firstSample().minus(one.firstSample());
        assertTrue(extra.compareTo(bound(one.firstSample())) < 0, "first sample " + most.firstSample().toMillis() + " ms at "
                + RseqWatch.maxThreads() + " workers, " + one.firstSample().toMillis() + " ms at 1: " + most.lines());
        assertEquals(status, most.status(), most.lines().toString());
        assertTrue(most.exitAfterSignal().compareTo(bound(one.exitAfterSignal())) < 0, "exit "
                + most.exitAfterSignal().toMillis() + " ms after SIG" + signal + " (" + one.exitAfterSignal().toMillis()
                + " ms at 1 worker): " + most.lines());
        assertTrue(most.lines().get(0).startsWith("pkrseq watch: " + RseqWatch.maxThreads() + " threads, workload spin"),
                most.lines().toString());
    }

    /** Five seconds, or twice what one worker took where the machine is loaded enough for that to be more. */
    private static Duration bound(Duration oneWorker) {
        Duration twice = oneWorker.multipliedBy(2);
        return twice.compareTo(BOUND) > 0 ? twice : BOUND;
    }

    @Test
    void brokenTwinAFirstSampleDueLaterThanTheBoundIsCaught() throws Exception {
        Features.assumeRseq();
        Timing one = watch("TERM", "--threads", "1", "--workload", "sleep");
        Duration late = bound(one.firstSample()).plusSeconds(2);
        Timing due = watch("TERM", "--threads", "1", "--workload", "sleep", "--interval", late.toMillis() + "ms");
        assertTrue(due.firstSample().minus(one.firstSample()).compareTo(bound(one.firstSample())) > 0,
                "the measurement would have let a first sample " + due.firstSample().toMillis() + " ms late pass");
    }
}
