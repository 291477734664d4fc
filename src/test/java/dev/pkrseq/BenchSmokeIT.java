package dev.pkrseq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import javax.xml.parsers.DocumentBuilderFactory;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xml.sax.InputSource;

/**
 * bench/run, the way the README tells users to run it, on a small subset in quick mode: the benchmarks
 * build (annotation processing included), run, and leave well-formed JSON, report and chart. Timings
 * are not asserted; ratios are only checked to be computed.
 */
class BenchSmokeIT {
    private static final Path ROOT = Path.of("").toAbsolutePath();

    @Test
    void quickRunWritesJsonReportAndChart(@TempDir Path results) throws Exception {
        // The library this build packaged, installed where bench/pom.xml looks for it.
        run(List.of("mvn", "-B", "-q", "org.apache.maven.plugins:maven-install-plugin:3.1.3:install-file",
                "-Dfile=" + ROOT.resolve("target/pkrseq-library.jar"), "-DpomFile=" + ROOT.resolve("pom.xml")), results);
        run(List.of(ROOT.resolve("bench/run").toString(), "--quick", "--skip-library", "--results", results.toString(),
                "CurrentCpuBench.(plainLoad|rseqCpuId)$|JfrBench.(bareCall|layerCallNoRecording)$"), results);

        JsonNode json = new ObjectMapper().readTree(results.resolve("latest.json").toFile());
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

        String svg = Files.readString(results.resolve("latest.svg"));
        var doc = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(new InputSource(new StringReader(svg)));
        assertEquals("svg", doc.getDocumentElement().getTagName());
        assertTrue(svg.contains("rseqCpuId") && svg.contains("layerCallNoRecording"));
    }

    private static void run(List<String> cmd, Path dir) throws Exception {
        Path log = dir.resolve("command.log");
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(ROOT.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile());
        pb.environment().remove("JAVA_HOME");
        Process p = pb.start();
        assertTrue(p.waitFor(15, TimeUnit.MINUTES), "timed out: " + cmd);
        assertEquals(0, p.exitValue(), cmd + " failed:\n" + Files.readString(log));
    }
}
