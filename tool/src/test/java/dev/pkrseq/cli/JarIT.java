package dev.pkrseq.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The packaged jar and the launcher, run the way a user runs them. */
class JarIT {
    private static final Path JAR = Path.of(System.getProperty("pkrseq.jar", "target/pkrseq.jar"));
    private static final Path LAUNCHER = Path.of(System.getProperty("pkrseq.launcher", "target/pkrseq"));

    record Run(int status, String out, String err) {
    }

    static Run run(List<String> cmd) throws IOException, InterruptedException {
        return run(cmd, null);
    }

    static Run run(List<String> cmd, String javaOpts) throws IOException, InterruptedException {
        Path out = Files.createTempFile("jar-it", ".out");
        Path err = Files.createTempFile("jar-it", ".err");
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile());
            pb.environment().remove("JAVA_HOME");
            pb.environment().remove("JAVA_TOOL_OPTIONS");
            if (javaOpts != null) {
                pb.environment().put("PKRSEQ_JAVA_OPTS", javaOpts);
            }
            Process p = pb.start();
            assertTrue(p.waitFor(120, TimeUnit.SECONDS), "timed out: " + cmd);
            return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    @Test
    void javaDashJarRunsWithNoFlagsAndNoWarnings() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Run r = run(List.of(java, "-jar", JAR.toString(), "probe", "--json", "--no-experiments"));
        assertEquals(0, r.status(), r.err());
        assertEquals("", r.err(), "java -jar must print no warning");
        assertTrue(new ObjectMapper().readTree(r.out()).has("platform"));
    }

    /** The README's JFR recipe, and unified logging asked for in PKRSEQ_JAVA_OPTS, leave stdout to the JSON. */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"probe --json --only rseq.cpu", "pkeys --json", "rseq --json", "tls --json",
            "percpu --json --threads 1 --adds 1000", "percpu --json --code",
            "watch --json --samples 1 --threads 1 --interval 10ms"})
    void launcherKeepsStdoutPureJsonWithJfrAndJvmLoggingOn(String command) throws Exception {
        Features.assumeRseq();
        Path jfr = Files.createTempFile("jar-it", ".jfr");
        try {
            List<String> cmd = new ArrayList<>(List.of(LAUNCHER.toString()));
            cmd.addAll(List.of(command.split(" ")));
            Run r = run(cmd, "-XX:StartFlightRecording=filename=" + jfr + " -Xlog:gc -Xlog:safepoint::uptime -verbose:gc");
            assertEquals(0, r.status(), r.err());
            JsonNode j = CliJsonTest.parse(r.out());
            assertTrue(j.get("schema").asText().startsWith("pkrseq."), r.out());
            assertTrue(r.err().contains("[gc"), "the GC log went to stderr: " + r.err());
        } finally {
            Files.deleteIfExists(jfr);
        }
    }

    @Test
    void launcherRunsThroughASymbolicLinkOnPath() throws Exception {
        Path dir = Files.createTempDirectory("jar-it-bin");
        Path link = dir.resolve("pkrseq");
        try {
            Files.createSymbolicLink(link, LAUNCHER.toAbsolutePath());
            Run r = run(List.of("sh", "-c", "PATH=" + dir + ":$PATH; cd / && pkrseq rseq --json"));
            assertEquals(0, r.status(), r.err());
            assertEquals("pkrseq.rseq/1", CliJsonTest.parse(r.out()).get("schema").asText());
        } finally {
            Files.deleteIfExists(link);
            Files.deleteIfExists(dir);
        }
    }

    @Test
    void launcherRunsTheToolWithoutJavaHome() throws Exception {
        Run r = run(List.of(LAUNCHER.toString(), "probe", "--no-experiments"));
        assertEquals(0, r.status(), r.err());
        assertEquals("", r.err());
        assertTrue(r.out().startsWith("pkrseq probe"), r.out());
    }

    @Test
    void launcherRunsTheGeneratedCriticalSection() throws Exception {
        Features.assumeRseq();
        Run r = run(List.of(LAUNCHER.toString(), "percpu", "--threads", "2", "--adds", "10000", "--json", "--quiet"));
        assertEquals(0, r.status(), r.err());
        assertEquals("", r.err());
        assertTrue(new ObjectMapper().readTree(r.out()).get("exact").asBoolean(), r.out());
    }

    @Test
    void anOldJavaExplainsWhatItNeeds() throws Exception {
        Optional<Path> old = oldJava();
        assumeTrue(old.isPresent(), "no JDK older than 22 on this machine");
        Run r = run(List.of(old.get().toString(), "-jar", JAR.toString(), "probe"));
        assertEquals(2, r.status());
        assertTrue(r.err().startsWith("pkrseq: needs Java 22 or newer"), r.err());
        assertTrue(!r.err().contains("Exception"), r.err());
    }

    private static Optional<Path> oldJava() throws IOException {
        List<Path> candidates = new ArrayList<>();
        Path jvm = Path.of("/usr/lib/jvm");
        if (Files.isDirectory(jvm)) {
            try (Stream<Path> s = Files.list(jvm)) {
                s.forEach(candidates::add);
            }
        }
        for (Path home : candidates) {
            Path release = home.resolve("release");
            Path java = home.resolve("bin/java");
            if (Files.isRegularFile(release) && Files.isExecutable(java)) {
                String v = Files.readAllLines(release).stream().filter(l -> l.startsWith("JAVA_VERSION="))
                        .findFirst().orElse("").replaceAll("[^0-9.]", "");
                String major = v.startsWith("1.") ? v.substring(2).replaceAll("\\..*", "") : v.replaceAll("\\..*", "");
                if (!major.isEmpty() && Integer.parseInt(major) < 22) {
                    return Optional.of(java);
                }
            }
        }
        return Optional.empty();
    }
}
