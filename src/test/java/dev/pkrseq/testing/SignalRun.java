package dev.pkrseq.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Stream;

import dev.pkrseq.observe.ChildJvm;

/**
 * Runs a class's {@code main} in a JVM of its own with a private {@code java.io.tmpdir}, waits until that
 * JVM runs the descendant processes a test waits for, sends it a signal with {@code kill}, and reports
 * what is left: the exit status, every descendant ever seen that still runs, and the files in its
 * temporary directory. Whatever it finds alive is remembered so that {@link Outcome#close()} can kill it.
 */
public final class SignalRun {
    private static final Duration START_LIMIT = Duration.ofSeconds(120);
    private static final Duration EXIT_LIMIT = Duration.ofSeconds(60);

    private SignalRun() {
    }

    /**
     * What a signalled JVM left.
     *
     * @param status its exit status
     * @param seen every descendant seen before and after the signal, as {@code pid command}
     * @param alive those still running (not zombies) a few seconds after it exited
     * @param filesAtSignal its temporary directory's entries just before the signal
     * @param leftover its temporary directory's entries after it exited
     * @param exitAfterSignal the time from the signal to its exit
     * @param stdout its standard output
     * @param stderr its standard error
     * @param base the directory that holds its temporary directory and output files
     * @param aliveHandles the processes in {@code alive}, for {@link #close()}
     */
    public record Outcome(int status, List<String> seen, List<String> alive, List<String> filesAtSignal, List<String> leftover,
            Duration exitAfterSignal, String stdout, String stderr, Path base, List<ProcessHandle> aliveHandles)
            implements AutoCloseable {
        /** Kills what was left alive and removes the directories. */
        @Override
        public void close() {
            aliveHandles.forEach(ProcessHandle::destroyForcibly);
            deleteTree(base);
        }

        @Override
        public String toString() {
            return "exit " + status + " " + exitAfterSignal.toMillis() + " ms after the signal; descendants seen " + seen
                    + ", alive " + alive + "; files at the signal " + filesAtSignal + ", left " + leftover + "; stderr: "
                    + stderr.strip() + "; stdout: " + tail(stdout);
        }
    }

    /**
     * Starts {@code main} with {@code args}, waits until its descendants satisfy {@code ready}, sends
     * {@code signal} and waits for it to exit.
     *
     * @param main the class to run
     * @param signal {@code INT} or {@code TERM}, or null to send none and wait for it to end by itself
     * @param ready when to send the signal, given the live descendants
     * @param args the program arguments
     * @return what it left
     * @throws AssertionError when it does not get ready or does not exit in time
     */
    public static Outcome run(Class<?> main, String signal, Predicate<List<ProcessHandle>> ready, String... args)
            throws IOException, InterruptedException {
        Path base = Files.createTempDirectory("pkrseq-signal-test-");
        Path tmp = Files.createDirectory(base.resolve("tmp"));
        Path out = base.resolve("stdout");
        Path err = base.resolve("stderr");
        List<String> command = ChildJvm.of(main).jvmArgs("-Djava.io.tmpdir=" + tmp).args(args).command();
        Process p = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        Map<Long, ProcessHandle> seen = new LinkedHashMap<>();
        // Described while seen: a process that has gone has no command any more.
        Map<Long, String> names = new LinkedHashMap<>();
        try {
            long deadline = System.nanoTime() + START_LIMIT.toNanos();
            while (true) {
                List<ProcessHandle> now = live(p.descendants());
                now.forEach(h -> remember(h, seen, names));
                if (ready.test(now)) {
                    break;
                }
                if ((!p.isAlive() && signal != null) || System.nanoTime() > deadline) {
                    throw new AssertionError("the JVM " + (p.isAlive() ? "did not get ready within " + START_LIMIT
                            : "exited (" + p.exitValue() + ")") + " before the signal; descendants seen "
                            + names.values() + "; stderr: " + read(err) + "; stdout: " + tail(read(out)));
                }
                Thread.sleep(10);
            }
            List<String> filesAtSignal = list(tmp);
            p.descendants().forEach(h -> remember(h, seen, names));
            long signalled = System.nanoTime();
            if (signal != null) {
                Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(p.pid())).inheritIO().start();
                if (kill.waitFor() != 0) {
                    throw new AssertionError("kill -" + signal + " " + p.pid() + " failed");
                }
            }
            // Descendants it starts while it shuts down count too.
            long exitDeadline = signalled + EXIT_LIMIT.toNanos();
            while (p.isAlive() && System.nanoTime() < exitDeadline) {
                p.descendants().forEach(h -> remember(h, seen, names));
                p.waitFor(10, TimeUnit.MILLISECONDS);
            }
            Duration exitAfter = Duration.ofNanos(System.nanoTime() - signalled);
            if (p.isAlive()) {
                throw new AssertionError("the JVM did not exit within " + EXIT_LIMIT + (signal == null ? "" : " of SIG" + signal));
            }
            // Give killed descendants a moment to be reaped before calling them alive.
            List<ProcessHandle> alive = List.of();
            long reapDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
            do {
                alive = live(seen.values().stream());
                if (alive.isEmpty()) {
                    break;
                }
                Thread.sleep(50);
            } while (System.nanoTime() < reapDeadline);
            List<String> aliveNames = alive.stream().map(h -> names.get(h.pid())).toList();
            return new Outcome(p.exitValue(), List.copyOf(names.values()), aliveNames, filesAtSignal, list(tmp), exitAfter,
                    read(out), read(err), base, alive);
        } finally {
            if (p.isAlive()) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                seen.values().forEach(ProcessHandle::destroyForcibly);
            }
        }
    }

    /** Processes that run: alive and not a zombie waiting to be reaped. */
    private static List<ProcessHandle> live(Stream<ProcessHandle> handles) {
        return handles.filter(ProcessHandle::isAlive).filter(h -> !zombie(h.pid())).toList();
    }

    private static boolean zombie(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            return stat.substring(stat.lastIndexOf(')') + 2).startsWith("Z");
        } catch (IOException gone) {
            return true;
        }
    }

    /**
     * Whether a process runs a java binary.
     *
     * @param h the process
     * @return true for a JVM
     */
    public static boolean isJava(ProcessHandle h) {
        return h.info().command().map(c -> c.endsWith("/java")).orElse(false);
    }

    private static void remember(ProcessHandle h, Map<Long, ProcessHandle> seen, Map<Long, String> names) {
        seen.putIfAbsent(h.pid(), h);
        // The latest command while it runs: a process is jspawnhelper until it execs its own.
        h.info().command().ifPresent(c -> names.put(h.pid(), h.pid() + " " + c));
        names.putIfAbsent(h.pid(), h.pid() + " ?");
    }

    private static List<String> list(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(f -> f.getFileName().toString()).sorted().toList();
        }
    }

    private static String read(Path file) throws IOException {
        return Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
    }

    private static String tail(String s) {
        String t = s.strip();
        return t.length() > 2000 ? "..." + t.substring(t.length() - 2000) : t;
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
