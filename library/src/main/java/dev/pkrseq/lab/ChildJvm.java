package dev.pkrseq.lab;

import dev.pkrseq.lab.internal.Cleanup;
import dev.pkrseq.lab.internal.Uninterruptibly;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * Runs a class's {@code main} in a child JVM: the same java binary, class path and module path as this
 * JVM, native access enabled, a time limit, and nothing left behind (no process, no temporary file).
 *
 * <p>Where pkrseq runs as the named module {@code dev.pkrseq} (a program on the module path), the child
 * gets this JVM's module path, resolves {@code dev.pkrseq} and grants it native access; a main class of a
 * named module runs as {@code -m module/class}.
 *
 * <p>Anything that may kill a JVM (a real protection-key fault, a registration experiment under
 * {@code GLIBC_TUNABLES}) runs here instead of in the user's JVM.
 *
 * <p>Nothing is left behind on any path this JVM controls: when the child returns, fails, outlives its
 * time limit, or when this JVM is ended by SIGINT, SIGTERM or SIGHUP, or calls {@code System.exit},
 * while children run. For the signals a {@code finally} block is not enough (the JVM runs only its
 * shutdown hooks, then halts), so every child and every temporary file is registered the moment it is
 * created, and one shutdown hook, installed on first use, ends the children (SIGTERM, then SIGKILL after
 * 5 s for them and all their descendants) and removes the files; after that, no child can start
 * ({@link ChildJvmException}). Any number of children may run at once, from any threads. Only SIGKILL
 * of this JVM leaves a running child and its files behind: nothing of this JVM runs then.
 *
 * <p>The child gets this JVM's {@code java.io.tmpdir}, so its own temporary files go where this JVM's
 * go, and {@code -XX:-UsePerfData}, so a child that is killed leaves no {@code hsperfdata} file; options
 * given with {@link #jvmArgs} come later and win.
 */
public final class ChildJvm {
    private Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    private String classPath = System.getProperty("java.class.path");
    private final String mainClass;
    /** The main class's module where it has a named one, else null. */
    private final String mainModule;
    private final List<String> jvmArgs = new ArrayList<>();
    private final List<String> args = new ArrayList<>();
    private final Map<String, String> env = new LinkedHashMap<>();
    private Duration timeout = Duration.ofSeconds(60);
    private Path directory;

    /** The longest time limit {@link #timeout(Duration)} accepts. */
    public static final Duration MAX_TIMEOUT = Duration.ofHours(24);

    private ChildJvm(String mainClass, String mainModule) {
        this.mainClass = Objects.requireNonNull(mainClass);
        this.mainModule = mainModule;
    }

    /**
     * Starts describing a child that runs {@code mainClass}.
     *
     * @param mainClass a class with a {@code main} method on this JVM's class path
     * @return the builder
     */
    public static ChildJvm of(Class<?> mainClass) {
        Module m = mainClass.getModule();
        return new ChildJvm(mainClass.getName(), m.isNamed() ? m.getName() : null);
    }

    /**
     * Starts describing a child that runs a class given by name.
     *
     * @param mainClass the fully qualified class name
     * @return the builder
     */
    public static ChildJvm of(String mainClass) {
        return new ChildJvm(mainClass, null);
    }

    /**
     * Uses another java binary.
     *
     * @param javaBinary path to {@code bin/java}
     * @return this
     */
    public ChildJvm java(Path javaBinary) {
        this.java = javaBinary;
        return this;
    }

    /**
     * Uses another class path.
     *
     * @param path the class path
     * @return this
     */
    public ChildJvm classPath(String path) {
        this.classPath = path;
        return this;
    }

    /**
     * Adds JVM options, before the main class.
     *
     * @param options for example {@code -XX:-CreateCoredumpOnCrash}
     * @return this
     */
    public ChildJvm jvmArgs(String... options) {
        jvmArgs.addAll(List.of(options));
        return this;
    }

    /**
     * Adds program arguments.
     *
     * @param arguments passed to {@code main}
     * @return this
     */
    public ChildJvm args(String... arguments) {
        args.addAll(List.of(arguments));
        return this;
    }

    /**
     * Sets an environment variable for the child, for example {@code GLIBC_TUNABLES}.
     *
     * @param name the variable
     * @param value its value
     * @return this
     */
    public ChildJvm env(String name, String value) {
        env.put(name, value);
        return this;
    }

    /**
     * Runs the child in another working directory, for example a temporary one that catches the files a
     * crashing JVM writes there.
     *
     * @param dir an existing directory
     * @return this
     */
    public ChildJvm directory(Path dir) {
        this.directory = dir;
        return this;
    }

    /**
     * Limits how long the child may run before it is killed.
     *
     * @param limit the time limit, more than 0 and at most {@link #MAX_TIMEOUT}
     * @return this
     * @throws IllegalArgumentException for a limit out of that range, before anything starts
     */
    public ChildJvm timeout(Duration limit) {
        this.timeout = checkTimeout(limit);
        return this;
    }

    /**
     * Checks a child's time limit, for the probes that take one, before they create anything.
     *
     * @param limit the time limit
     * @return the limit
     * @throws IllegalArgumentException when it is not more than 0 and at most {@link #MAX_TIMEOUT}
     */
    public static Duration checkTimeout(Duration limit) {
        Objects.requireNonNull(limit, "timeout");
        if (limit.isNegative() || limit.isZero() || limit.compareTo(MAX_TIMEOUT) > 0) {
            throw new IllegalArgumentException("a child JVM's timeout must be more than 0 and at most "
                    + MAX_TIMEOUT.toHours() + " h, not " + limit);
        }
        return limit;
    }

    /**
     * The command line the child runs.
     *
     * @return java, options, module path, class path, main class and arguments
     */
    public List<String> command() {
        Module library = ChildJvm.class.getModule();
        String modulePath = System.getProperty("jdk.module.path", "");
        List<String> cmd = new ArrayList<>();
        cmd.add(java.toString());
        // Naming a module the child does not resolve would make it warn.
        cmd.add("--enable-native-access=ALL-UNNAMED" + (library.isNamed() ? "," + library.getName() : ""));
        cmd.add("-XX:-UsePerfData");
        cmd.add("-Djava.io.tmpdir=" + System.getProperty("java.io.tmpdir"));
        cmd.addAll(jvmArgs);
        if (!modulePath.isEmpty()) {
            cmd.add("--module-path");
            cmd.add(directory == null ? modulePath : absolute(modulePath));
            if (library.isNamed()) {
                // A main class on the class path resolves no module of the module path by itself.
                cmd.add("--add-modules");
                cmd.add(library.getName());
            }
        }
        if (!classPath.isEmpty()) {
            cmd.add("-cp");
            cmd.add(directory == null ? classPath : absolute(classPath));
        }
        if (mainModule != null && !modulePath.isEmpty()) {
            cmd.add("-m");
            cmd.add(mainModule + "/" + mainClass);
        } else {
            cmd.add(mainClass);
        }
        cmd.addAll(args);
        return cmd;
    }

    /**
     * Runs the child to completion.
     *
     * @return its exit status and output
     * @throws ChildJvmException when the child cannot start, cannot load its main class, or outlives
     *     the time limit; the child is killed and its files removed first. Also when this JVM has begun
     *     to shut down: then the shutdown hook ends the child and removes its files.
     */
    public Result run() {
        if (!Files.isExecutable(java)) {
            throw new ChildJvmException("cannot start a child JVM: " + java + " is not an executable java binary");
        }
        Path out = null;
        Path err = null;
        Process p = null;
        long start = System.nanoTime();
        try {
            out = Cleanup.tempFile("pkrseq-child-", ".out");
            err = Cleanup.tempFile("pkrseq-child-", ".err");
            ProcessBuilder pb = new ProcessBuilder(command()).redirectOutput(out.toFile()).redirectError(err.toFile());
            pb.environment().putAll(env);
            if (directory != null) {
                pb.directory(directory.toFile());
            }
            p = Cleanup.start(pb);
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                kill(p);
                throw new ChildJvmException("child JVM " + mainClass + " did not finish within " + seconds(timeout)
                        + " and was killed");
            }
            requireNotShuttingDown();
            Duration elapsed = Duration.ofNanos(System.nanoTime() - start);
            String stdout = Files.readString(out, StandardCharsets.UTF_8);
            String stderr = Files.readString(err, StandardCharsets.UTF_8);
            if (p.exitValue() == 1 && (stderr.contains("Could not find or load main class " + mainClass)
                    || stderr.contains("ClassNotFoundException: " + mainClass))) {
                List<String> missing = missingEntries();
                throw new ChildJvmException("child JVM could not load " + mainClass + " from class path '" + classPath + "'"
                        + (missing.isEmpty() ? "" : " (" + (missing.size() == 1 ? "entry" : "entries") + " not found: "
                                + String.join(", ", missing) + ")"));
            }
            return new Result(p.exitValue(), stdout, stderr, elapsed);
        } catch (Cleanup.ShuttingDownException e) {
            throw new ChildJvmException("child JVM " + mainClass + ": " + e.getMessage(), e);
        } catch (IOException e) {
            requireNotShuttingDown();
            throw new ChildJvmException("cannot start a child JVM with " + java + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ChildJvmException("interrupted while waiting for child JVM " + mainClass, e);
        } finally {
            if (p != null) {
                if (p.isAlive()) {
                    kill(p);
                }
                Cleanup.forget(p);
            }
            if (out != null) {
                Cleanup.delete(out);
            }
            if (err != null) {
                Cleanup.delete(err);
            }
        }
    }

    /**
     * Starts the child and returns at once, for a child that runs beside this JVM: one whose output is
     * shown as it comes, for example. The child is registered like {@link #run()}'s, so a signal that ends
     * this JVM ends it too; the time limit does not apply, and nothing is redirected to files.
     *
     * @param inheritIO true to give the child this JVM's standard input, output and error (a terminal the
     *     child draws on); false for pipes, read through {@link Running#process()}
     * @return the running child; close it to end it
     * @throws ChildJvmException when the java binary is missing, the process cannot start, or this JVM
     *     has begun to shut down
     */
    public Running start(boolean inheritIO) {
        if (!Files.isExecutable(java)) {
            throw new ChildJvmException("cannot start a child JVM: " + java + " is not an executable java binary");
        }
        ProcessBuilder pb = new ProcessBuilder(command());
        pb.environment().putAll(env);
        if (directory != null) {
            pb.directory(directory.toFile());
        }
        if (inheritIO) {
            pb.inheritIO();
        }
        try {
            return new Running(Cleanup.start(pb));
        } catch (Cleanup.ShuttingDownException e) {
            throw new ChildJvmException("child JVM " + mainClass + ": " + e.getMessage(), e);
        } catch (IOException e) {
            throw new ChildJvmException("cannot start a child JVM with " + java + ": " + e.getMessage(), e);
        }
    }

    /**
     * A child started with {@link #start(boolean)}.
     */
    public static final class Running implements AutoCloseable {
        private final Process process;

        private Running(Process process) {
            this.process = process;
        }

        /**
         * The child's process, for its streams and its exit status.
         *
         * @return the process
         */
        public Process process() {
            return process;
        }

        /**
         * Ends the child if it still runs, the way the shutdown hook does: SIGTERM, so that it can run its
         * own clean-up (a terminal's cursor, its own children), then SIGKILL after 5 s for it and every
         * descendant seen; and waits up to 5 s more for them to go. Closing twice does nothing more.
         */
        @Override
        public void close() {
            if (process.isAlive()) {
                Cleanup.end(List.of(process));
            }
            Cleanup.forget(process);
        }
    }

    private void requireNotShuttingDown() {
        if (Cleanup.shuttingDown()) {
            throw new ChildJvmException("child JVM " + mainClass + " was ended: this JVM is shutting down (SIGINT,"
                    + " SIGTERM, SIGHUP or System.exit), and its shutdown hook ends the lab's children");
        }
    }

    private static String seconds(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
    }

    /** The class path entries that name no file or directory (relative ones resolve against this JVM's directory). */
    private List<String> missingEntries() {
        return Arrays.stream(classPath.split(File.pathSeparator))
                .filter(e -> !e.isEmpty() && !e.endsWith("*") && !Files.exists(Path.of(e)))
                .toList();
    }

    /** A relative class path would break in another working directory, such as {@code java -jar target/x.jar}'s. */
    private static String absolute(String path) {
        return Arrays.stream(path.split(File.pathSeparator))
                .map(e -> e.isEmpty() ? e : Path.of(e).toAbsolutePath().toString())
                .collect(Collectors.joining(File.pathSeparator));
    }

    private static void kill(Process p) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        // Wait even when interrupted: the files are removed next, and a dying child may still write them.
        Uninterruptibly.run(() -> p.waitFor(10, TimeUnit.SECONDS));
    }

    /**
     * How a child JVM ended.
     *
     * @param exitCode the exit status; 128 + n when a signal n killed it
     * @param stdout everything it printed on standard output
     * @param stderr everything it printed on standard error
     * @param elapsed wall time from start to exit
     */
    public record Result(int exitCode, String stdout, String stderr, Duration elapsed) {
        /**
         * Standard output's lines that start with a prefix, prefix removed: the way children report
         * values to the parent.
         *
         * @param prefix for example {@code "page="}
         * @return the values, in order
         */
        public List<String> values(String prefix) {
            return stdout.lines().filter(l -> l.startsWith(prefix))
                    .map(l -> ChildReport.unescape(l.substring(prefix.length()))).toList();
        }

        /**
         * What the child reported through {@link ChildReport#put}, with typed getters.
         *
         * @return the report read from the child's standard output
         */
        public ChildReport report() {
            return ChildReport.parse(stdout);
        }

        /**
         * The first value reported under a prefix.
         *
         * @param prefix for example {@code "page="}
         * @return the value
         * @throws ChildJvmException when the child did not report it
         */
        public String value(String prefix) {
            List<String> v = values(prefix);
            if (v.isEmpty()) {
                throw new ChildJvmException("child JVM did not report '" + prefix + "' (exit " + exitCode + "): "
                        + (stderr.isBlank() ? stdout.strip() : stderr.strip()));
            }
            return v.get(0);
        }
    }

    /** The child JVM could not be run as asked; the message says why in words. */
    public static final class ChildJvmException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        /**
         * A failure of the child's run.
         *
         * @param message what went wrong, and what to do
         */
        public ChildJvmException(String message) {
            super(message);
        }

        /**
         * A failure of the child's run, with its cause.
         *
         * @param message what went wrong, and what to do
         * @param cause what was thrown
         */
        public ChildJvmException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
