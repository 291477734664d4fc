package dev.pkrseq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import javax.xml.parsers.DocumentBuilderFactory;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pkrseq.pkey.Pkeys;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xml.sax.InputSource;

/**
 * bench/run, the way the README tells users to run it, in quick mode: the benchmarks build (annotation
 * processing included) and their own tests pass, they run, and leave well-formed JSON, report and chart.
 * On a small subset everywhere; the protection-key benchmarks ({@code PkruBench}, {@code ToggleBench},
 * {@code TagBench}) where the CPU has PKU, where a crashed fork or any failure fails the test. Timings are
 * not asserted; ratios are only checked to be computed.
 *
 * <p>Every nested Maven call gets the local repository and the settings files this build uses (from
 * failsafe's {@code pkrseq.maven.*} properties), so that {@code mvn verify -Dmaven.repo.local=...}
 * leaves the user's ~/.m2 alone.
 */
class BenchSmokeIT {
    private static final Path ROOT = Path.of("").toAbsolutePath();
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The library this build packaged, installed where bench/pom.xml looks; the benchmarks built and tested. */
    @BeforeAll
    static void installLibraryAndBuildBenchmarks(@TempDir Path logs) throws Exception {
        List<String> install = new ArrayList<>(List.of("mvn", "-B", "-q"));
        install.addAll(mavenArgs());
        install.addAll(List.of("org.apache.maven.plugins:maven-install-plugin:3.1.3:install-file",
                "-Dfile=" + ROOT.resolve("target/pkrseq-library.jar"), "-DpomFile=" + ROOT.resolve("pom.xml")));
        run(install, logs);
        // bench/run skips the benchmark project's own tests (SuiteTest, ReportTest); they run here.
        List<String> benchTests = new ArrayList<>(List.of("mvn", "-B", "-q"));
        benchTests.addAll(mavenArgs());
        benchTests.addAll(List.of("-f", ROOT.resolve("bench/pom.xml").toString(), "package"));
        run(benchTests, logs);
    }

    @Test
    void quickRunWritesJsonReportAndChart(@TempDir Path results) throws Exception {
        run(List.of(ROOT.resolve("bench/run").toString(), "--quick", "--skip-library", "--results", results.toString(),
                "CurrentCpuBench.(plainLoad|rseqCpuId)$|JfrBench.(bareCall|layerCallNoRecording)$"), results);

        JsonNode json = JSON.readTree(results.resolve("latest.json").toFile());
        assertTrue(json.isArray());
        assertEquals(4, json.size(), json.toString());
        for (JsonNode r : json) {
            assertTrue(r.get("primaryMetric").get("score").asDouble() > 0, r.toString());
            assertTrue(r.get("machine").get("cores").asInt() >= 1, r.toString());
        }

        String md = Files.readString(results.resolve("latest.md"));
        assertTrue(md.startsWith("# pkrseq benchmarks"), md);
        assertTrue(md.matches("(?s).*\\| CurrentCpuBench \\| `rseqCpuId / plainLoad` \\| [0-9.]+ \\| ≤ 2\\.0 \\| (PASS|FAIL) \\|.*"), md);
        assertTrue(md.matches("(?s).*\\| JfrBench \\| `layerCallNoRecording / bareCall` \\| [0-9.]+ \\| ≤ 1\\.10 \\| (PASS|FAIL) \\|.*"), md);
        assertTrue(md.contains("## CurrentCpuBench") && md.contains("## JfrBench"), md);
        assertFalse(md.contains("## Failures"), md);

        String svg = Files.readString(results.resolve("latest.svg"));
        var doc = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(new InputSource(new StringReader(svg)));
        assertEquals("svg", doc.getDocumentElement().getTagName());
        assertTrue(svg.contains("rseqCpuId") && svg.contains("layerCallNoRecording"));
        assertNoCrashLog(results);
    }

    @Test
    void protectionKeyBenchmarksRunQuickWithEveryForkAliveAndTheirRatiosComputed(@TempDir Path results) throws Exception {
        assumeTrue(Pkeys.supported(), () -> "the protection-key benchmarks need PKU: " + Pkeys.unavailableReason().orElse(""));
        run(List.of(ROOT.resolve("bench/run").toString(), "--quick", "--skip-library", "--results", results.toString(),
                "PkruBench|ToggleBench|TagBench", "-p", "pages=1,4096"), results);

        assertFalse(Files.exists(results.resolve("latest.failures.json")), "no benchmark failed");
        JsonNode json = JSON.readTree(results.resolve("latest.json").toFile());
        Set<String> ran = new TreeSet<>();
        json.forEach(r -> ran.add(r.get("benchmark").asText().replaceFirst("^dev\\.pkrseq\\.pkey\\.", "")));
        assertEquals(new TreeSet<>(List.of("PkruBench.emptyCritical", "PkruBench.glibcPkeyGetCritical",
                "PkruBench.glibcPkeySetCritical", "PkruBench.pkeyGet", "PkruBench.pkeySet", "TagBench.oneCall",
                "TagBench.tlsRetagRestore", "TagBench.walkPerPage", "ToggleBench.mprotect", "ToggleBench.pkeyMprotect",
                "ToggleBench.pkru")), ran, "every protection-key benchmark produced a result");
        String md = Files.readString(results.resolve("latest.md"));
        for (String ratio : List.of("`mprotect[pages=1] / pkru[pages=1]`", "`mprotect[pages=4096] / pkru[pages=4096]`",
                "`pkeySet / glibcPkeySetCritical`")) {
            assertTrue(md.matches("(?s).*" + java.util.regex.Pattern.quote(ratio) + " \\| [0-9.]+ \\| [^|]+ \\| (PASS|FAIL) \\|.*"),
                    ratio + " is computed:\n" + md);
        }
        assertNoCrashLog(results);
    }

    /** No JVM of the run left a crash log, in the results folder or the checkout. */
    private static void assertNoCrashLog(Path results) throws Exception {
        for (Path dir : List.of(results, ROOT, ROOT.resolve("bench"))) {
            try (Stream<Path> s = Files.list(dir)) {
                List<String> logs = s.map(p -> p.getFileName().toString())
                        .filter(n -> n.matches("(hs_err|replay)_pid\\d+\\.log")).toList();
                assertEquals(List.of(), logs, "crash logs in " + dir);
            }
        }
    }

    /**
     * The local repository and settings files of the Maven run that runs this test, as Maven options,
     * for every nested mvn: failsafe passes them as system properties.
     */
    static List<String> mavenArgs() {
        List<String> args = new ArrayList<>();
        String repo = System.getProperty("pkrseq.maven.repo.local", "");
        if (!repo.isBlank()) {
            args.add("-Dmaven.repo.local=" + repo);
        }
        for (String[] s : new String[][] {{"-s", "pkrseq.maven.settings"}, {"-gs", "pkrseq.maven.globalSettings"},
            {"-t", "pkrseq.maven.toolchains"}}) {
            String file = System.getProperty(s[1], "");
            if (!file.isBlank() && Files.isRegularFile(Path.of(file))) {
                args.add(s[0]);
                args.add(file);
            }
        }
        if (System.getProperty("pkrseq.maven.offline", "").equals("offline=true")) {
            args.add("-o");
        }
        for (String a : args) {
            if (a.chars().anyMatch(Character::isWhitespace)) {
                // bench/run reads MAVEN_ARGS as words, as Maven does.
                throw new IllegalStateException("a Maven option with white space cannot pass through MAVEN_ARGS: " + a);
            }
        }
        return args;
    }

    private static void run(List<String> cmd, Path dir) throws Exception {
        Path log = Files.createTempFile(dir, "command", ".log");
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(ROOT.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile());
        pb.environment().remove("JAVA_HOME");
        pb.environment().put("MAVEN_ARGS", String.join(" ", mavenArgs()));
        Process p = pb.start();
        assertTrue(p.waitFor(30, TimeUnit.MINUTES), "timed out: " + cmd);
        assertEquals(0, p.exitValue(), cmd + " failed:\n" + Files.readString(log));
    }
}
