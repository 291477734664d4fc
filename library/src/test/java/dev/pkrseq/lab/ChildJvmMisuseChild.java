package dev.pkrseq.lab;

import dev.pkrseq.lab.pkey.PkeyFaultProbe;
import dev.pkrseq.testing.Thrown;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Child JVM for {@link ChildJvmMisuseTest}: it misuses {@link ChildJvm} and {@link PkeyFaultProbe} and
 * reports what each misuse gave and what it left behind. The parent starts it with its own
 * {@code java.io.tmpdir}, so that every temporary file it finds there after a scenario is a leak of that
 * scenario, whatever else runs on the machine.
 *
 * <p>Per scenario it prints {@code <s>.error=<type>|<message>}, {@code <s>.descendants=<processes of
 * this JVM still alive>}, {@code <s>.leftover=<entries of java.io.tmpdir, or none>} and, for the script
 * that starts grandchildren, {@code <s>.grandchildrenAlive=}.
 */
public final class ChildJvmMisuseChild {
    private ChildJvmMisuseChild() {
    }

    /** What a well-formed child prints. */
    public static final class Hello {
        private Hello() {
        }

        /**
         * Prints one line.
         *
         * @param args ignored
         */
        public static void main(String[] args) {
            System.out.println("hello");
        }
    }

    /**
     * Runs the scenarios named in {@code args[1..]}, with fixtures under {@code args[0]}.
     *
     * @param args the fixture directory, then scenario names
     * @throws Exception on a failure of the harness itself
     */
    public static void main(String[] args) throws Exception {
        Path fixtures = Path.of(args[0]);
        Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
        ChildReport.put("tmp", tmp);
        for (int i = 1; i < args.length; i++) {
            String s = args[i];
            String error = Thrown.described(() -> scenario(s, fixtures));
            ChildReport.put(s + ".error", error);
            ChildReport.put(s + ".descendants", aliveDescendants());
            ChildReport.put(s + ".leftover", list(tmp));
        }
    }

    private static void scenario(String name, Path fixtures) throws Exception {
        Path missingJava = Path.of("/nonexistent-pkrseq-jdk/bin/java");
        String missingClassPath = "/nonexistent-pkrseq/classes:/nonexistent-pkrseq/lib.jar";
        List<String> pause = List.of("-XX:+UnlockDiagnosticVMOptions", "-XX:+PauseAtStartup");
        switch (name) {
            case "missing-java" -> ChildJvm.of(Hello.class).java(missingJava).run();
            case "missing-classpath" -> ChildJvm.of(Hello.class).classPath(missingClassPath).run();
            case "hang-jvm" -> {
                // A real JVM that never gets to main: PauseAtStartup waits for a file in its directory to go.
                Path cwd = Files.createDirectories(fixtures.resolve("hang-cwd"));
                ChildJvm.of(Hello.class).directory(cwd).jvmArgs(pause.toArray(String[]::new))
                        .timeout(Duration.ofSeconds(2)).run();
            }
            case "hang-script" -> {
                // A "java" that starts two grandchildren and waits for them: killing the child alone would
                // leave them running.
                Path pids = fixtures.resolve("grandchildren.pids");
                Path script = fixtures.resolve("hanging-java");
                Files.writeString(script, "#!/bin/sh\nsleep 600 &\necho $! > '" + pids + "'\nsleep 600 &\necho $! >> '"
                        + pids + "'\nwait\n");
                Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
                try {
                    ChildJvm.of(Hello.class).java(script).timeout(Duration.ofSeconds(2)).run();
                } finally {
                    ChildReport.put("hang-script.grandchildrenAlive", aliveOf(pids));
                }
            }
            case "fault-missing-java" -> PkeyFaultProbe.run(Duration.ofSeconds(60), c -> c.java(missingJava));
            case "fault-missing-classpath" -> PkeyFaultProbe.run(Duration.ofSeconds(120),
                    c -> c.classPath(missingClassPath));
            case "fault-hang" -> PkeyFaultProbe.run(Duration.ofSeconds(5), c -> c.jvmArgs(pause.toArray(String[]::new)));
            default -> throw new IllegalArgumentException("unknown scenario " + name);
        }
    }

    /** Descendants still alive; killed ones get a few seconds to be reaped. */
    private static long aliveDescendants() throws InterruptedException {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (true) {
            long n = ProcessHandle.current().descendants().filter(ProcessHandle::isAlive).count();
            if (n == 0 || System.nanoTime() > deadline) {
                return n;
            }
            Thread.sleep(50);
        }
    }

    private static String aliveOf(Path pids) throws IOException, InterruptedException {
        if (!Files.exists(pids)) {
            return "unknown (the script wrote no pids)";
        }
        List<Long> list = Files.readAllLines(pids).stream().map(String::strip).filter(l -> !l.isEmpty()).map(Long::parseLong)
                .toList();
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (true) {
            List<Long> alive = new ArrayList<>();
            for (long pid : list) {
                if (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                    alive.add(pid);
                }
            }
            if (alive.isEmpty() || System.nanoTime() > deadline) {
                return list.size() + " started, alive " + (alive.isEmpty() ? "none" : alive.toString());
            }
            Thread.sleep(50);
        }
    }

    private static String list(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            List<String> names = s.map(p -> p.getFileName().toString()).sorted().toList();
            return names.isEmpty() ? "none" : String.join(",", names);
        }
    }
}
