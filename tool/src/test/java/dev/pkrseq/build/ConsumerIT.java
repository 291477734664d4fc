package dev.pkrseq.build;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.spi.ToolProvider;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.stream.Stream;

import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A program of a library user, compiled and run against the library jar this build made, the two ways a
 * user runs one: on the class path with {@code --enable-native-access=ALL-UNNAMED}, and on the module path
 * as a module that {@code requires dev.pkrseq}, with {@code --enable-native-access=dev.pkrseq}. Either way it
 * reads rseq and asks about protection keys and static TLS in-process, runs a child JVM of its own, and one
 * built-in experiment that needs a child JVM; the JVMs print nothing on standard error (no warning). The
 * jar's module descriptor exports only the API packages.
 */
class ConsumerIT {
    /** The packages a user may use. */
    private static final Set<String> API = Set.of("dev.pkrseq", "dev.pkrseq.pkey", "dev.pkrseq.rseq", "dev.pkrseq.rseq.percpu",
            "dev.pkrseq.tls",
            "dev.pkrseq.lab");
    /** The modules of this project that hidden packages may be exported to. */
    private static final Set<String> FRIENDS = Set.of("dev.pkrseq.tool");
    /** An experiment whose observation runs in a child JVM (glibc's rseq registration off there). */
    private static final String CHILD_EXPERIMENT = "rseq.unregister";

    private static final String MODULE_INFO = """
            module consumer {
                requires dev.pkrseq;
            }
            """;

    /** The program; its child JVM runs the nested class {@code Child}. */
    private static final String MAIN = """
            package consumer;

            import dev.pkrseq.lab.ChildJvm;
            import dev.pkrseq.lab.ExperimentResult;
            import dev.pkrseq.lab.Experiments;
            import dev.pkrseq.pkey.Pkeys;
            import dev.pkrseq.rseq.Rseq;
            import dev.pkrseq.tls.Tls;

            public final class Main {
                private Main() {
                }

                public static void main(String[] args) {
                    System.out.println("module=" + Main.class.getModule().getName());
                    System.out.println("library=" + Rseq.class.getModule().getName());
                    System.out.println("classpath=" + System.getProperty("java.class.path"));
                    System.out.println("cpu=" + Rseq.ensureRegistered().cpuId());
                    System.out.println("pkeys=" + Pkeys.supported());
                    System.out.println("tls-pages=" + !Tls.current().pagesToRetag().isEmpty());
                    ChildJvm.Result child = ChildJvm.of(Child.class).args("hello").run();
                    System.out.println("child.exit=" + child.exitCode());
                    System.out.println("child.err=" + child.stderr().isEmpty());
                    child.stdout().lines().forEach(l -> System.out.println("child." + l));
                    ExperimentResult r = Experiments.run(Experiments.all().stream()
                            .filter(e -> e.id().equals(args[0])).findFirst().orElseThrow());
                    System.out.println("experiment=" + r.id() + " " + r.outcome().name());
                }

                public static final class Child {
                    private Child() {
                    }

                    public static void main(String[] args) {
                        System.out.println("module=" + Child.class.getModule().getName());
                        System.out.println("library=" + Rseq.class.getModule().getName());
                        System.out.println("cpu=" + (Rseq.ensureRegistered().cpuId() >= 0));
                        System.out.println("arg=" + args[0]);
                    }
                }
            }
            """;

    private static Path library;

    record Run(int status, String out, String err) {
        Map<String, String> values() {
            Map<String, String> v = new TreeMap<>();
            out.lines().filter(l -> l.contains("=")).forEach(l -> v.put(l.substring(0, l.indexOf('=')),
                    l.substring(l.indexOf('=') + 1)));
            return v;
        }
    }

    @BeforeAll
    static void theLibraryJarIsBuilt() {
        Features.assumeRseq();
        library = Path.of(System.getProperty("pkrseq.library.jar", "../library/target/missing.jar")).toAbsolutePath();
        assertTrue(Files.isRegularFile(library), "no library jar at " + library + " (run mvn verify)");
    }

    @Test
    void aProgramOnTheClassPathRunsWithoutAWarning(@TempDir Path dir) throws Exception {
        Path classes = compile(dir, false, "-cp", library.toString());
        Run r = java(dir, "--enable-native-access=ALL-UNNAMED", "-cp", library + ":" + classes, "consumer.Main",
                CHILD_EXPERIMENT);
        assertRan(r, "null", "null");
        assertEquals(library + ":" + classes, r.values().get("classpath"), r.out());
    }

    @Test
    void aModuleThatRequiresDevPkrseqRunsWithoutAWarning(@TempDir Path dir) throws Exception {
        Path classes = compile(dir, true, "--module-path", library.toString());
        Run r = java(dir, "--enable-native-access=dev.pkrseq", "--module-path", library + ":" + classes,
                "-m", "consumer/consumer.Main", CHILD_EXPERIMENT);
        assertRan(r, "consumer", "dev.pkrseq");
        assertEquals("", r.values().get("classpath"), "nothing on the class path: " + r.out());
    }

    @Test
    void theJarIsTheModuleDevPkrseqExportingOnlyTheApi() {
        String description = run(ToolProvider.findFirst("jar").orElseThrow(), "--describe-module", "--file",
                library.toString());
        List<String> lines = description.lines().map(String::strip).filter(l -> !l.isEmpty()).toList();
        assertTrue(lines.get(0).startsWith("dev.pkrseq@"), description);
        Set<String> exported = new TreeSet<>();
        for (String l : lines.subList(1, lines.size())) {
            String[] w = l.split(" ");
            switch (w[0]) {
                case "exports" -> exported.add(w[1]);
                case "qualified" -> {
                    assertEquals("exports", w[1], l);
                    assertEquals("to", w[3], l);
                    assertTrue(FRIENDS.containsAll(List.of(w).subList(4, w.length)),
                            "a hidden package is exported to a module outside this project: " + l);
                }
                // The library uses the JDK alone.
                case "requires" -> assertTrue(w[1].startsWith("java.") || w[1].startsWith("jdk."), l);
                case "contains" -> { }
                default -> throw new AssertionError("unexpected line in the module description: " + l + "\n" + description);
            }
        }
        assertEquals(new TreeSet<>(API), exported, description);
    }

    @Test
    void theJavadocJarDocumentsOnlyTheExportedApi() throws IOException {
        Path javadoc = library.resolveSibling(library.getFileName().toString().replace(".jar", "-javadoc.jar"));
        assertTrue(Files.isRegularFile(javadoc), "no javadoc jar at " + javadoc);
        Set<String> documented = new TreeSet<>();
        try (ZipFile zip = new ZipFile(javadoc.toFile())) {
            zip.stream().map(ZipEntry::getName)
                    .filter(n -> n.endsWith("/package-summary.html"))
                    .map(n -> n.replaceFirst("^dev\\.pkrseq/", ""))
                    .map(n -> n.substring(0, n.length() - "/package-summary.html".length()).replace('/', '.'))
                    .forEach(documented::add);
        }
        assertEquals(new TreeSet<>(API), documented, "the javadoc jar documents these packages");
    }

    /** The consumer's lines, each checked; the JVM and the child JVMs wrote nothing on standard error. */
    private static void assertRan(Run r, String module, String libraryModule) {
        assertEquals(0, r.status(), r.out() + r.err());
        assertEquals("", r.err(), "standard error must be empty (no warning)");
        Map<String, String> v = r.values();
        int cpus = Runtime.getRuntime().availableProcessors();
        assertEquals(module, v.get("module"), r.out());
        assertEquals(libraryModule, v.get("library"), r.out());
        int cpu = Integer.parseInt(v.get("cpu"));
        assertTrue(cpu >= 0 && cpu < Math.max(cpus, 1024), r.out());
        assertTrue(Set.of("true", "false").contains(v.get("pkeys")), r.out());
        assertEquals("true", v.get("tls-pages"), r.out());
        assertEquals("0", v.get("child.exit"), r.out());
        assertEquals("true", v.get("child.err"), "the child JVM wrote on standard error:\n" + r.out());
        assertEquals(module, v.get("child.module"), "the child runs where its class is:\n" + r.out());
        assertEquals(libraryModule, v.get("child.library"), r.out());
        assertEquals("true", v.get("child.cpu"), r.out());
        assertEquals("hello", v.get("child.arg"), r.out());
        assertEquals(CHILD_EXPERIMENT + " AS_EXPECTED", v.get("experiment"), r.out());
    }

    private static Path compile(Path dir, boolean module, String... pathOptions) throws IOException {
        Path src = dir.resolve("src");
        Path classes = dir.resolve("classes");
        Files.createDirectories(src.resolve("consumer"));
        List<String> files = new ArrayList<>();
        if (module) {
            files.add(write(src.resolve("module-info.java"), MODULE_INFO));
        }
        files.add(write(src.resolve("consumer/Main.java"), MAIN));
        List<String> options = new ArrayList<>(List.of("--release", "22", "-Xlint:all", "-Werror", "-d", classes.toString()));
        options.addAll(List.of(pathOptions));
        options.addAll(files);
        String out = run(ToolProvider.findFirst("javac").orElseThrow(), options.toArray(String[]::new));
        assertEquals("", out.strip(), "javac had something to say");
        return classes;
    }

    private static String write(Path file, String text) throws IOException {
        Files.writeString(file, text);
        return file.toString();
    }

    /** Runs a JDK tool in this JVM; fails on a non-zero status. */
    private static String run(ToolProvider tool, String... args) {
        StringWriter out = new StringWriter();
        int status;
        try (PrintWriter w = new PrintWriter(out)) {
            status = tool.run(w, w, args);
        }
        assertEquals(0, status, tool.name() + " " + String.join(" ", args) + "\n" + out);
        return out.toString();
    }

    private static Run java(Path dir, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(List.of(args));
        Path out = dir.resolve("out.txt");
        Path err = dir.resolve("err.txt");
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectOutput(out.toFile())
                .redirectError(err.toFile());
        // Options from the environment make the JVM print "Picked up ..." on standard error. CLASSPATH (the
        // test JVM's own, where failsafe sets it) would become the class path of a JVM started without -cp.
        Stream.of("JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "CLASSPATH").forEach(pb.environment()::remove);
        Process p = pb.start();
        if (!p.waitFor(300, TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly().waitFor();
            throw new AssertionError("timed out: " + cmd);
        }
        return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
    }
}
