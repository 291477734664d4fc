package dev.pkrseq.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

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
 */
public final class Suite {
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
            "ToggleBench.pkeyMprotect");

    private Suite() {
    }

    /**
     * Runs the suite.
     *
     * @param args {@code [--quick] [--results DIR] [--report RUN.json] [JMH arguments...]}
     * @throws Exception when a run cannot start or a file cannot be written
     */
    public static void main(String[] args) throws Exception {
        boolean quick = false;
        Path results = Path.of("bench", "results");
        List<String> jmh = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--quick" -> quick = true;
                case "--results" -> results = Path.of(args[++i]);
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
        if (quick) {
            jmh.addAll(0, quickDefaults(parsed));
        }
        Files.createDirectories(results);
        Path jar = jar();
        Map<String, Invocation> plan = plan(jmh, parsed);
        List<Path> parts = new ArrayList<>();
        int failures = 0;
        int n = 0;
        for (Map.Entry<String, Invocation> e : plan.entrySet()) {
            Path part = results.resolve("part-" + (n++) + ".json");
            Files.deleteIfExists(part);
            System.out.println("# bench/run: " + e.getKey());
            int status = e.getValue().run(jar, part);
            if (status != 0) {
                System.err.println("bench/run: JMH invocation '" + e.getKey() + "' exited with status " + status);
                failures++;
            }
            if (Files.isRegularFile(part) && Files.size(part) > 0) {
                parts.add(part);
            }
        }
        Path latest = results.resolve("latest.json");
        Run.assemble(parts, Machine.current(), latest);
        for (Path p : parts) {
            Files.delete(p);
        }
        String md = Report.render(latest);
        System.out.println();
        System.out.println(md.substring(md.indexOf("## Ratios"), md.indexOf("\n## ", md.indexOf("## Ratios") + 1)));
        System.out.println("bench/run: wrote " + latest + ", " + results.resolve("latest.md") + " and "
                + results.resolve("latest.svg"));
        System.exit(failures == 0 ? 0 : 1);
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

    private static Map<String, Invocation> plan(List<String> jmh, CommandLineOptions parsed) {
        Map<String, Invocation> plan = new LinkedHashMap<>();
        if (!parsed.getIncludes().isEmpty()) {
            plan.put("the given benchmarks", new Invocation(jmh, List.of(), Map.of()));
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
        plan.put("main suite", new Invocation(base, List.of("-e", String.join(",", excludes)), Map.of()));
        plan.put(MM_CID + " under pkrseq's own registration",
                new Invocation(base, List.of(MM_CID), Map.of("GLIBC_TUNABLES", "glibc.pthread.rseq=0")));
        List<String> noThreads = withoutOption(base, "-t");
        plan.put(PER_CPU + " with 1 thread", new Invocation(noThreads, List.of("-t", "1", PER_CPU), Map.of()));
        plan.put(PER_CPU + " with 2 threads", new Invocation(noThreads, List.of("-t", "2", PER_CPU), Map.of()));
        return plan;
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

    private static Path jar() throws Exception {
        return Path.of(Suite.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    }

    /** One JMH run in a child process: the given arguments, then its own, with JSON output to a file. */
    private record Invocation(List<String> args, List<String> own, Map<String, String> env) {
        int run(Path jar, Path json) throws IOException, InterruptedException {
            List<String> cmd = new ArrayList<>();
            cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            cmd.addAll(JVM_FLAGS);
            cmd.add("-jar");
            cmd.add(jar.toString());
            List<String> userArgs = new ArrayList<>(args);
            List<String> prepend = new ArrayList<>(JVM_FLAGS);
            int at = userArgs.indexOf("-jvmArgsPrepend");
            if (at >= 0) {
                prepend.add(userArgs.remove(at + 1));
                userArgs.remove(at);
            }
            cmd.addAll(userArgs);
            cmd.add("-jvmArgsPrepend");
            cmd.add(String.join(" ", prepend));
            cmd.addAll(own);
            if (!userArgs.contains("-foe")) {
                // JMH exits 0 after a benchmark threw, unless told to fail on error.
                cmd.add("-foe");
                cmd.add("true");
            }
            cmd.add("-rf");
            cmd.add("json");
            cmd.add("-rff");
            cmd.add(json.toAbsolutePath().toString());
            ProcessBuilder pb = new ProcessBuilder(cmd).inheritIO();
            pb.environment().putAll(env);
            return pb.start().waitFor();
        }
    }
}
