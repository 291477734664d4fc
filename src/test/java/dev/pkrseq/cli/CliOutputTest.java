package dev.pkrseq.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import dev.pkrseq.observe.ChildJvm;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Test;

/**
 * Output that cannot be written: a pipe whose reader went away ({@code pkrseq probe | head -1}), a full
 * device ({@code > /dev/full}), a closed descriptor ({@code >&-}). Each command stops, says why in one
 * line on standard error, exits 1 without a stack trace, and leaves no process behind. Run as real
 * processes: {@code System.out} is where the failure hides.
 */
class CliOutputTest {
    private static final long LIMIT_SECONDS = 120;

    record Ended(int status, String firstLine, String stderr, long descendantsAlive) {
    }

    private static List<String> command(String... args) {
        return ChildJvm.of(Main.class).args(args).command();
    }

    /** Runs a command whose standard output is a pipe this test reads one line of (or none), then closes. */
    private static Ended closedPipe(boolean readOneLine, String... args) throws Exception {
        File err = File.createTempFile("pkrseq-output-test-", ".err");
        try {
            Process p = new ProcessBuilder(command(args)).redirectError(err).start();
            String first = null;
            if (readOneLine) {
                first = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8)).readLine();
            }
            p.getInputStream().close();
            return ended(p, first, err);
        } finally {
            err.delete();
        }
    }

    private static Ended ended(Process p, String first, File err) throws Exception {
        List<ProcessHandle> descendants = new ArrayList<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(LIMIT_SECONDS);
        while (p.isAlive() && System.nanoTime() < deadline) {
            p.descendants().forEach(descendants::add);
            p.waitFor(20, TimeUnit.MILLISECONDS);
        }
        if (p.isAlive()) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            throw new AssertionError("still running " + LIMIT_SECONDS + " s after its output was closed");
        }
        Thread.sleep(200);
        long alive = descendants.stream().filter(ProcessHandle::isAlive).peek(ProcessHandle::destroyForcibly).count();
        return new Ended(p.exitValue(), first, java.nio.file.Files.readString(err.toPath()), alive);
    }

    private static Ended redirected(File out, String... args) throws Exception {
        File err = File.createTempFile("pkrseq-output-test-", ".err");
        try {
            Process p = new ProcessBuilder(command(args)).redirectOutput(out).redirectError(err).start();
            return ended(p, null, err);
        } finally {
            err.delete();
        }
    }

    private static void failedInOneLine(Ended e, String command, String why) {
        assertEquals(1, e.status(), e.toString());
        assertEquals("pkrseq: " + command + ": cannot write the output: " + why + "\n", e.stderr(), e.toString());
        assertEquals(0, e.descendantsAlive(), e.toString());
    }

    @Test
    void probeIntoAPipeClosedAfterTheFirstLineSaysBrokenPipeAndExits1() throws Exception {
        Ended e = closedPipe(true, "probe", "--no-experiments");
        assertEquals("pkrseq probe: what this JVM sees", e.firstLine());
        failedInOneLine(e, "probe", "Broken pipe");
    }

    @Test
    void watchIntoDevFullStopsAtTheFirstSampleAndSaysNoSpaceLeft() throws Exception {
        Features.assumeRseq();
        // No --samples and no --duration: only the failed write can end it.
        Ended e = redirected(new File("/dev/full"), "watch", "--json", "--threads", "2", "--interval", "20ms");
        failedInOneLine(e, "watch", "No space left on device");
    }

    @Test
    void watchWithItsStandardOutputClosedSaysBadFileDescriptor() throws Exception {
        Features.assumeRseq();
        List<String> cmd = new ArrayList<>(List.of("sh", "-c", "exec \"$@\" >&-", "sh"));
        cmd.addAll(command("watch", "--threads", "1", "--interval", "20ms"));
        File err = File.createTempFile("pkrseq-output-test-", ".err");
        try {
            Ended e = ended(new ProcessBuilder(cmd).redirectError(err).start(), null, err);
            failedInOneLine(e, "watch", "Bad file descriptor");
        } finally {
            err.delete();
        }
    }

    @Test
    void watchWithOwnRegistrationIntoAClosedPipeEndsItsChild() throws Exception {
        Features.assumeRseq();
        Ended e = closedPipe(true, "watch", "--own-registration", "--json", "--threads", "2", "--interval", "20ms");
        assertTrue(e.firstLine().startsWith("{\"sample\":1,"), e.firstLine());
        failedInOneLine(e, "watch", "Broken pipe");
    }

    @Test
    void anEmbeddingWritersFailureIsReportedWithoutAReason() {
        StringWriter err = new StringWriter();
        Writer broken = new Writer() {
            @Override
            public void write(char[] cbuf, int off, int len) throws IOException {
                throw new IOException("gone");
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        int status = Main.run(new PrintWriter(broken, true), new PrintWriter(err, true), "probe", "--no-experiments");
        assertEquals(1, status);
        assertEquals("pkrseq: probe: cannot write the output: the stream failed" + System.lineSeparator(), err.toString());
    }
}
