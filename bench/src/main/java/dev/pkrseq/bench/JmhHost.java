package dev.pkrseq.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.results.BenchmarkResult;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Defaults;
import org.openjdk.jmh.runner.NoBenchmarksException;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.format.OutputFormat;
import org.openjdk.jmh.runner.format.OutputFormatFactory;
import org.openjdk.jmh.runner.options.CommandLineOptionException;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.VerboseMode;

/**
 * One JMH invocation of the suite, in the child JVM {@link Suite} starts: JMH's own runner, with an
 * output that watches each benchmark and writes down the ones that end without a result, and why.
 *
 * <p>JMH alone says little about a failure: with {@code -foe true} it stops the whole invocation at the
 * first one; without it, it goes on and exits 0. Here it goes on (unless asked otherwise), and this host
 * records every benchmark that crashed its fork ({@code <forked VM failed with exit code N>}), threw
 * ({@code <failure>}) or recorded nothing, together with the crash logs that appeared meanwhile in the
 * crash folder, in a JSON status file that it rewrites after every event, so that even a host that dies
 * leaves the benchmark it was running. It exits 0 when every benchmark produced a result, 1 otherwise.
 *
 * <p>Usage: {@code JmhHost NAME STATUS.json RESULT.json CRASH_DIR [--fork-arg ARG]... -- [JMH arguments]}.
 * Every fork gets the {@code --fork-arg}s first, then the user's {@code -jvmArgsPrepend}, and its crash logs
 * go to CRASH_DIR.
 */
public final class JmhHost {
    private static final Pattern FORK_DIED = Pattern.compile("^<forked VM failed with exit code (-?\\d+)>");
    private static final int DETAIL_LINES = 24;

    private JmhHost() {
    }

    /**
     * Runs the invocation.
     *
     * @param args see the class description
     */
    public static void main(String[] args) {
        String name = args[0];
        Path status = Path.of(args[1]);
        Path result = Path.of(args[2]);
        Path crashDir = Path.of(args[3]);
        List<String> forkArgs = new ArrayList<>(HsErr.jvmArgs(crashDir));
        int i = 4;
        for (; i < args.length && !args[i].equals("--"); i += 2) {
            if (!args[i].equals("--fork-arg")) {
                throw new IllegalArgumentException("JmhHost: unknown option " + args[i]);
            }
            forkArgs.add(args[i + 1]);
        }
        String[] jmh = java.util.Arrays.copyOfRange(args, Math.min(i + 1, args.length), args.length);
        Status st = new Status(name, status);
        int exit;
        try {
            exit = run(jmh, forkArgs, result, crashDir, st);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        System.out.flush();
        System.exit(exit);
    }

    private static int run(String[] jmh, List<String> forkArgs, Path result, Path crashDir, Status st) throws IOException {
        CommandLineOptions cmd;
        try {
            cmd = new CommandLineOptions(jmh);
        } catch (CommandLineOptionException e) {
            st.error("JMH refused the arguments: " + e.getMessage(), 2);
            System.err.println("bench/run: JMH refused the arguments: " + e.getMessage());
            return 2;
        }
        List<String> prepend = new ArrayList<>(forkArgs);
        if (cmd.getJvmArgsPrepend().hasValue()) {
            prepend.addAll(cmd.getJvmArgsPrepend().get());
        }
        Options options = new OptionsBuilder().parent(cmd).jvmArgsPrepend(prepend.toArray(String[]::new))
                .resultFormat(ResultFormatType.JSON).result(result.toAbsolutePath().toString()).build();
        VerboseMode verbose = cmd.verbosity().orElse(Defaults.VERBOSITY);
        Watch watch = new Watch(OutputFormatFactory.createFormatInstance(System.out, verbose), st, crashDir);
        try {
            new Runner(options, watch).run();
        } catch (NoBenchmarksException e) {
            watch.finish();
            st.error("no benchmark matches " + cmd.getIncludes() + (cmd.getExcludes().isEmpty() ? ""
                    : " without " + cmd.getExcludes()), 1);
            System.err.println("bench/run: no benchmark matches the given pattern");
            return 1;
        } catch (RunnerException e) {
            // -foe true ends the run at the first failure; the watch has it. Anything else is the host's.
            watch.finish();
            if (st.failures.isEmpty()) {
                Throwable root = e;
                while (root.getCause() != null) {
                    root = root.getCause();
                }
                st.error("JMH: " + e.getMessage() + (root == e ? "" : ": " + root), 1);
            }
            e.printStackTrace(System.err);
            return 1;
        }
        watch.finish();
        return st.failures.isEmpty() ? 0 : 1;
    }

    /** What this invocation has seen so far, written to the status file after every change. */
    static final class Status {
        final String name;
        final Path file;
        final List<Failure> failures = new ArrayList<>();
        String running;
        String error;
        Integer errorExit;

        Status(String name, Path file) {
            this.name = name;
            this.file = file;
            write();
        }

        void running(String benchmark) {
            running = benchmark;
            write();
        }

        void failed(Failure f) {
            failures.add(f);
            write();
        }

        void error(String message, int exit) {
            error = message;
            errorExit = exit;
            write();
        }

        private void write() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("invocation", name);
            m.put("running", running);
            m.put("error", error);
            m.put("errorExit", errorExit);
            m.put("failures", failures);
            try {
                Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
                Run.MAPPER.writerWithDefaultPrettyPrinter().writeValue(tmp.toFile(), m);
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    /**
     * JMH's text output, unchanged, plus the bookkeeping: a benchmark is started by
     * {@link #startBenchmark}, and ends with {@link #endBenchmark} when it has results. JMH skips
     * endBenchmark after a fork died, so a benchmark still open at the next start (or at the end) failed.
     */
    static final class Watch implements OutputFormat {
        private final OutputFormat out;
        private final Status status;
        private final Path crashDir;
        private BenchmarkParams current;
        private TreeSet<String> crashFilesBefore;
        private Failure.Kind kind;
        private Integer exit;
        private final List<String> detail = new ArrayList<>();
        private boolean capturing;

        Watch(OutputFormat out, Status status, Path crashDir) {
            this.out = out;
            this.status = status;
            this.crashDir = crashDir;
        }

        @Override
        public void startBenchmark(BenchmarkParams params) {
            close(null);
            current = params;
            kind = null;
            exit = null;
            detail.clear();
            capturing = false;
            try {
                crashFilesBefore = HsErr.list(crashDir);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            status.running(params.getBenchmark());
            out.startBenchmark(params);
        }

        @Override
        public void endBenchmark(BenchmarkResult result) {
            out.endBenchmark(result);
            close(result);
        }

        /** Called when the run ends, normally or not: a benchmark still open failed. */
        void finish() {
            close(null);
            status.running(null);
        }

        private void close(BenchmarkResult result) {
            if (current == null) {
                return;
            }
            if (kind == null && result == null) {
                // Ended without endBenchmark (JMH skips it when a fork fails) or with nothing measured.
                kind = Failure.Kind.NO_RESULT;
            }
            if (kind != null) {
                Map<String, String> params = new LinkedHashMap<>();
                for (String k : current.getParamsKeys()) {
                    params.put(k, current.getParam(k));
                }
                List<Failure.CrashFile> logs;
                try {
                    logs = HsErr.since(crashDir, crashFilesBefore);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                status.failed(new Failure(status.name, current.getBenchmark(), params, kind, exit, detail, logs));
            }
            current = null;
        }

        private void watch(String line) {
            if (current == null || line == null) {
                return;
            }
            Matcher died = FORK_DIED.matcher(line);
            if (died.find()) {
                kind = Failure.Kind.CRASHED;
                exit = Integer.parseInt(died.group(1));
                capturing = true;
                return;
            }
            if (line.startsWith("<failure>")) {
                if (kind == null) {
                    kind = Failure.Kind.THREW;
                }
                capturing = true;
                return;
            }
            if (line.startsWith("<failed to invoke the VM") || line.startsWith("<host VM has been interrupted")) {
                kind = Failure.Kind.CRASHED;
                detail.add(line);
                return;
            }
            if (capturing) {
                for (String l : line.split("\n")) {
                    if (!l.isBlank() && !l.matches("</?std(out|err)( last='\\d+ lines')?>") && detail.size() < DETAIL_LINES) {
                        detail.add(l.stripTrailing());
                    }
                }
            }
        }

        @Override
        public void iteration(BenchmarkParams benchParams, IterationParams params, int iteration) {
            out.iteration(benchParams, params, iteration);
        }

        @Override
        public void iterationResult(BenchmarkParams benchParams, IterationParams params, int iteration,
                IterationResult data) {
            out.iterationResult(benchParams, params, iteration, data);
        }

        @Override
        public void startRun() {
            out.startRun();
        }

        @Override
        public void endRun(Collection<RunResult> result) {
            close(null);
            out.endRun(result);
        }

        @Override
        public void print(String s) {
            out.print(s);
        }

        @Override
        public void println(String s) {
            watch(s);
            out.println(s);
        }

        @Override
        public void flush() {
            out.flush();
        }

        @Override
        public void close() {
            out.close();
        }

        @Override
        public void verbosePrintln(String s) {
            out.verbosePrintln(s);
        }

        @Override
        public void write(int b) {
            out.write(b);
        }

        @Override
        public void write(byte[] b) throws IOException {
            out.write(b);
        }
    }
}
