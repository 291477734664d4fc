package dev.pkrseq.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import com.fasterxml.jackson.databind.JsonNode;

import dev.pkrseq.pkey.Pkeys;
import org.openjdk.jmh.runner.options.CommandLineOptionException;
import org.openjdk.jmh.runner.options.CommandLineOptions;

/**
 * Runs the benchmark suite the way bench/run promises, then writes the JSON, the report and the chart.
 *
 * <p>With no benchmark pattern on the command line it runs everything, in up to four JMH invocations:
 * the main one; {@code CurrentCpuBench.rseqMmCid} under {@code GLIBC_TUNABLES=glibc.pthread.rseq=0}
 * (mm_cid needs pkrseq's own registration); and every {@code PerCpu*Bench} with 1 and then 2 threads.
 * Where protection keys do not work, the benchmarks that need them are left out and the report says so.
 * With a pattern, it runs one JMH invocation with exactly the given arguments. Every fork gets
 * {@code --enable-native-access=ALL-UNNAMED}.
 *
 * <p>Each invocation runs in a child JVM ({@link JmhHost}) whose working directory is the results folder,
 * and every JVM of the run (the host and each JMH fork) writes its crash log there
 * ({@code -XX:ErrorFile}), never into the repository. A benchmark whose fork crashes, that throws, or an
 * invocation that fails as a whole, is reported (on the console, in {@code latest.md} and in
 * {@code latest.failures.json}, with the exit status and the crash log's first lines); the suite goes on
 * with the rest and exits 1.
 */
public final class Suite {
    /** Where a plain bench/run writes: untracked, under the build directory. */
    static final Path DEFAULT_RESULTS = Path.of("bench", "target", "results");
    /** The tracked results, refreshed only on request ({@code --publish}). */
    static final Path PUBLISHED_RESULTS = Path.of("bench", "results");
    private static final List<String> QUICK = List.of("-f", "1", "-wi", "2", "-w", "200ms", "-i", "3", "-r", "200ms");
    private static final String NATIVE_ACCESS = "--enable-native-access=ALL-UNNAMED";
    // JMH 1.37 reads field offsets through sun.misc.Unsafe; JDK 24+ warns about it on every JVM start.
    private static final List<String> JVM_FLAGS = Runtime.version().feature() >= 24
            ? List.of(NATIVE_ACCESS, "--sun-misc-unsafe-memory-access=allow") : List.of(NATIVE_ACCESS);
    private static final String MM_CID = "CurrentCpuBench.rseqMmCid";
    /** The benchmark classes run with 1 and then 2 threads: every PerCpu*Bench (a JMH pattern). */
    private static final String PER_CPU = "PerCpu";
    /** The benchmarks (patterns: a class, or class.method) that need protection keys. */
    static final List<String> NEEDS_PKEYS = List.of("PkruBench", "TagBench", "ToggleBench.pkru",
            "ToggleBench.pkeyMprotect", "SwitchCurveBench.withRights", "SwitchCurveBench.pkeySet",
            "SwitchCurveBench.wrpkru");

    private Suite() {
    }

    /**
     * Runs the suite.
     *
     * @param args {@code [--quick] [--results DIR | --publish] [--report RUN.json] [JMH arguments...]}
     * @throws Exception when a run cannot start or a file cannot be written
     */
    public static void main(String[] args) throws Exception {
        boolean quick = false;
        Path results = DEFAULT_RESULTS;
        List<String> jmh = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--quick" -> quick = true;
                case "--results" -> results = Path.of(args[++i]);
                case "--publish" -> results = PUBLISHED_RESULTS;
                case "--report" -> {
                    System.out.print(Report.render(Path.of(args[++i])));
                    return;
                }
                default -> jmh.add(args[i]);
            }
        }
        CommandLineOptions parsed;
        try {
            parsed = new CommandLineOptions(jmh.toArray(String[]::new));
        } catch (CommandLineOptionException e) {
            System.err.println("bench/run: " + e.getMessage());
            System.exit(2);
            return;
        }
        if (parsed.shouldHelp() || parsed.shouldList() || parsed.shouldListWithParams() || parsed.shouldListProfilers()
                || parsed.shouldListResultFormats()) {
            // Listing runs nothing: JMH's own main, once.
            org.openjdk.jmh.Main.main(jmh.toArray(String[]::new));
            return;
        }
        if (quick) {
            jmh.addAll(0, quickDefaults(parsed));
        }
        System.exit(run(results, plan(jmh, parsed), classPath(), System.out));
    }

    /**
     * Runs the invocations one after the other, whatever happens to each, then writes
     * {@code latest.json}, {@code latest.md}, {@code latest.svg} and, when something failed,
     * {@code latest.failures.json} into {@code results}, and prints the failures and the ratios.
     *
     * @param results the results folder; the JMH hosts run in it, and every crash log goes there
     * @param plan the invocations
     * @param classPath the class path of the JMH hosts and forks: the benchmarks jar
     * @param console where to print the summary
     * @return 0 when every benchmark produced a result, 1 otherwise
     * @throws IOException when a file cannot be read or written
     * @throws InterruptedException when interrupted while waiting for an invocation
     */
    static int run(Path results, List<Invocation> plan, String classPath, PrintStream console)
            throws IOException, InterruptedException {
        Files.createDirectories(results);
        Path latest = results.resolve("latest.json");
        for (Path stale : List.of(latest, results.resolve("latest.md"), results.resolve("latest.svg"), Run.failuresFile(latest))) {
            Files.deleteIfExists(stale);
        }
        List<Path> parts = new ArrayList<>();
        List<Failure> failures = new ArrayList<>();
        for (int n = 0; n < plan.size(); n++) {
            Invocation inv = plan.get(n);
            Path part = results.resolve("part-" + n + ".json");
            Path status = results.resolve("part-" + n + ".status.json");
            Files.deleteIfExists(part);
            Files.deleteIfExists(status);
            console.println("# bench/run: " + inv.name());
            console.flush();
            TreeSet<String> crashFilesBefore = HsErr.list(results);
            int exit = inv.start(classPath, results, part, status).waitFor();
            List<Failure> these = outcome(inv, exit, status, results, crashFilesBefore);
            for (Failure f : these) {
                console.println("bench/run: FAILED in '" + inv.name() + "': " + f.label() + ": " + f.what());
            }
            failures.addAll(these);
            if (Files.isRegularFile(part) && Files.size(part) > 0) {
                parts.add(part);
            } else {
                Files.deleteIfExists(part);
            }
            Files.deleteIfExists(status);
        }
        Machine machine = Machine.current();
        Run.assemble(parts, machine, latest);
        for (Path p : parts) {
            Files.delete(p);
        }
        if (!failures.isEmpty()) {
            Run.writeFailures(latest, machine, failures);
        }
        Report.render(latest);
        Run run = Run.read(latest);
        console.println();
        if (!failures.isEmpty()) {
            console.print(Report.failures(run));
        }
        console.print(Report.ratios(run));
        console.println("bench/run: wrote " + latest + ", " + results.resolve("latest.md") + " and "
                + results.resolve("latest.svg") + (failures.isEmpty() ? "" : ", and " + Run.failuresFile(latest)));
        if (!failures.isEmpty()) {
            console.println("bench/run: " + failures.size() + (failures.size() == 1 ? " failure" : " failures")
                    + "; the run is incomplete (exit status 1)");
        }
        console.flush();
        return failures.isEmpty() ? 0 : 1;
    }

    /** The failures an invocation reports in its status file, or, when it could not, what its exit says. */
    private static List<Failure> outcome(Invocation inv, int exit, Path status, Path results, TreeSet<String> crashFilesBefore)
            throws IOException {
        List<Failure> failures = new ArrayList<>();
        String running = null;
        String error = null;
        if (Files.isRegularFile(status)) {
            JsonNode s = Run.MAPPER.readTree(status.toFile());
            for (JsonNode f : s.path("failures")) {
                failures.add(Run.MAPPER.treeToValue(f, Failure.class));
            }
            running = s.path("running").isTextual() ? s.path("running").asText() : null;
            error = s.path("error").isTextual() ? s.path("error").asText() : null;
        }
        if (exit != 0 && failures.isEmpty() || error != null) {
            // The host itself failed: a crash logs not attributed to a benchmark is its own.
            Set<String> attributed = new HashSet<>();
            failures.forEach(f -> f.logs().forEach(l -> attributed.add(l.file())));
            List<Failure.CrashFile> logs = new ArrayList<>(HsErr.since(results, crashFilesBefore));
            logs.removeIf(l -> attributed.contains(l.file()));
            List<String> detail = new ArrayList<>();
            detail.add(error != null ? error : Files.isRegularFile(status) ? "the JMH host exited with status " + exit
                    : "the JMH host wrote no status: it did not start, or died at once");
            failures.add(new Failure(inv.name(), running, Map.of(), Failure.Kind.INVOCATION, exit, detail, logs));
        }
        return failures;
    }

    private static List<String> quickDefaults(CommandLineOptions o) {
        List<String> q = new ArrayList<>();
        for (int i = 0; i < QUICK.size(); i += 2) {
            String opt = QUICK.get(i);
            boolean set = switch (opt) {
                case "-f" -> o.getForkCount().hasValue();
                case "-wi" -> o.getWarmupIterations().hasValue();
                case "-w" -> o.getWarmupTime().hasValue();
                case "-i" -> o.getMeasurementIterations().hasValue();
                case "-r" -> o.getMeasurementTime().hasValue();
                default -> false;
            };
            if (!set) {
                q.add(opt);
                q.add(QUICK.get(i + 1));
            }
        }
        return q;
    }

    private static List<Invocation> plan(List<String> jmh, CommandLineOptions parsed) {
        List<Invocation> plan = new ArrayList<>();
        if (!parsed.getIncludes().isEmpty()) {
            plan.add(new Invocation("the given benchmarks", jmh, Map.of()));
            return plan;
        }
        List<String> excludes = new ArrayList<>(parsed.getExcludes());
        List<String> base = withoutOption(jmh, "-e");
        excludes.add(MM_CID);
        excludes.add(PER_CPU);
        if (!Pkeys.supported()) {
            excludes.addAll(NEEDS_PKEYS);
            System.out.println("# bench/run: protection keys are unavailable here (" + Pkeys.unavailableReason().orElse("")
                    + "); leaving out " + String.join(", ", NEEDS_PKEYS));
        }
        plan.add(new Invocation("main suite", concat(base, List.of("-e", String.join(",", excludes))), Map.of()));
        plan.add(new Invocation(MM_CID + " under pkrseq's own registration", concat(base, List.of(MM_CID)),
                Map.of("GLIBC_TUNABLES", "glibc.pthread.rseq=0")));
        List<String> noThreads = withoutOption(base, "-t");
        plan.add(new Invocation(PER_CPU + " with 1 thread", concat(noThreads, List.of("-t", "1", PER_CPU)), Map.of()));
        plan.add(new Invocation(PER_CPU + " with 2 threads", concat(noThreads, List.of("-t", "2", PER_CPU)), Map.of()));
        return plan;
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> out = new ArrayList<>(a);
        out.addAll(b);
        return out;
    }

    private static List<String> withoutOption(List<String> args, String option) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < args.size(); i++) {
            if (args.get(i).equals(option)) {
                i++;
            } else {
                out.add(args.get(i));
            }
        }
        return out;
    }

    /** The benchmarks jar this class runs from, as an absolute path. */
    private static String classPath() throws Exception {
        return Path.of(Suite.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
    }

    /**
     * One JMH invocation: its name in the report, JMH's arguments, and its environment.
     *
     * @param name for example {@code main suite}
     * @param args JMH's arguments
     * @param env variables added to the environment of the host and, through it, of every fork
     */
    record Invocation(String name, List<String> args, Map<String, String> env) {
        /**
         * Starts the JMH host in {@code results}: its console output is this process's; the JSON goes to
         * {@code json}, the host's status to {@code status}, and every crash log into {@code results}.
         */
        Process start(String classPath, Path results, Path json, Path status) throws IOException {
            List<String> cmd = new ArrayList<>();
            cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            cmd.addAll(JVM_FLAGS);
            cmd.addAll(HsErr.jvmArgs(results));
            cmd.add("-cp");
            cmd.add(classPath);
            cmd.add(JmhHost.class.getName());
            cmd.add(name);
            cmd.add(status.toAbsolutePath().toString());
            cmd.add(json.toAbsolutePath().toString());
            cmd.add(results.toAbsolutePath().toString());
            for (String f : JVM_FLAGS) {
                cmd.add("--fork-arg");
                cmd.add(f);
            }
            cmd.add("--");
            cmd.addAll(args);
            ProcessBuilder pb = new ProcessBuilder(cmd).inheritIO().directory(results.toFile());
            pb.environment().putAll(env);
            return pb.start();
        }
    }
}
