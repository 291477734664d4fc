package dev.pkrseq.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import javax.xml.parsers.DocumentBuilderFactory;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;
import org.xml.sax.InputSource;

/** The report and chart come from the JSON alone, with every ratio computed or explained. */
class ReportTest {

    private static Path sample(Path dir) throws Exception {
        Path json = dir.resolve("run.json");
        try (var in = ReportTest.class.getResourceAsStream("/sample-run.json")) {
            Files.copy(in, json);
        }
        return json;
    }

    @Test
    void ratiosAreComputedFromTheRunWithPassAndFail(@TempDir Path dir) throws Exception {
        Run run = Run.read(sample(dir));
        assertEquals(4, run.results().size());
        assertEquals("Test CPU", run.machine().cpu());
        Ratio load = Ratio.ALL.get(0);
        assertEquals(1.8, load.value(run.results()).getAsDouble(), 1e-9);
        assertTrue(load.passes(1.8));
        Ratio best = Ratio.ALL.get(1);
        assertEquals("min(schedGetcpu, schedGetcpuCritical) / rseqCpuId", best.formula());
        assertEquals(4.4 / 0.9, best.value(run.results()).getAsDouble(), 1e-9);
        assertContains(Report.markdown(run, "run.svg"),
                "| CurrentCpuBench | `rseqCpuId / plainLoad` | 1.80 | ≤ 2.0 | PASS |",
                "| CurrentCpuBench | `min(schedGetcpu, schedGetcpuCritical) / rseqCpuId` | 4.89 | ≥ 3.0 | PASS |",
                "n/a: not in this run (getcpuSyscall)",
                "this machine has no protection keys",
                "Machine: Test CPU, 2 cores, Linux 6.18.0, glibc 2.36, JDK 25.0.3",
                "| rseqCpuId | 0.900 | 0.010 | ns/op |");
    }

    /** Fails on the first part the report lacks, showing the whole report. */
    private static void assertContains(String md, String... parts) {
        for (String part : parts) {
            assertTrue(md.contains(part), () -> "no \"" + part + "\" in\n" + md);
        }
    }

    @Test
    void termsMatchParametersAndThreads() {
        List<Result> results = List.of(
                new Result("x.ToggleBench.mprotect", "ToggleBench", "mprotect", Map.of("pages", "1"), 1, 3, 2000, 1, "ns/op"),
                new Result("x.ToggleBench.mprotect", "ToggleBench", "mprotect", Map.of("pages", "4096"), 1, 3, 90000, 1, "ns/op"),
                new Result("x.ToggleBench.pkru", "ToggleBench", "pkru", Map.of("pages", "1"), 1, 3, 40, 1, "ns/op"),
                new Result("x.ToggleBench.pkru", "ToggleBench", "pkru", Map.of("pages", "4096"), 1, 3, 41, 1, "ns/op"),
                new Result("x.PerCpuCounterBench.rseqAdd", "PerCpuCounterBench", "rseqAdd", Map.of(), 1, 3, 6, 1, "ns/op"),
                new Result("x.PerCpuCounterBench.rseqAdd", "PerCpuCounterBench", "rseqAdd", Map.of(), 2, 3, 7, 1, "ns/op"),
                new Result("x.PerCpuCounterBench.atomicLongIncrement", "PerCpuCounterBench", "atomicLongIncrement",
                        Map.of(), 2, 3, 49, 1, "ns/op"));
        assertEquals(50.0, Ratio.ALL.get(3).value(results).getAsDouble(), 1e-9);
        assertEquals(90000.0 / 41, Ratio.ALL.get(4).value(results).getAsDouble(), 1e-9);
        assertEquals(7.0, Ratio.ALL.get(8).value(results).getAsDouble(), 1e-9);
        assertTrue(Ratio.ALL.get(7).value(results).isEmpty(), "no 1-thread LongAdder result");
    }

    @Test
    void renderWritesMarkdownAndWellFormedSvgBesideTheJson(@TempDir Path dir) throws Exception {
        Path json = sample(dir);
        Report.render(json);
        String md = Files.readString(dir.resolve("run.md"));
        assertTrue(md.startsWith("# pkrseq benchmarks"));
        assertTrue(md.contains("![chart](run.svg)"));
        String svg = Files.readString(dir.resolve("run.svg"));
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setNamespaceAware(true);
        Document doc = f.newDocumentBuilder().parse(new InputSource(new StringReader(svg)));
        assertEquals("svg", doc.getDocumentElement().getLocalName());
        assertTrue(svg.contains("CurrentCpuBench"), "bars are labelled by group");
        assertTrue(svg.contains("log scale"));
    }

    @Test
    void assembleMergesPartsAndRecordsTheMachineInEveryResult(@TempDir Path dir) throws Exception {
        Path a = sample(dir);
        Path b = dir.resolve("b.json");
        ArrayNode second = Run.MAPPER.createArrayNode();
        ObjectNode r = (ObjectNode) Run.MAPPER.readTree(a.toFile()).get(0).deepCopy();
        r.put("benchmark", "dev.pkrseq.sys.JfrBench.bareCall");
        r.remove("machine");
        second.add(r);
        Run.MAPPER.writeValue(b.toFile(), second);
        Path out = dir.resolve("all.json");
        Machine m = new Machine("Other CPU", 4, "6.1.0", "2.36", true);
        Run.assemble(List.of(a, b), m, out);
        Run all = Run.read(out);
        assertEquals(5, all.results().size());
        assertEquals(m, all.machine());
        Run.MAPPER.readTree(out.toFile()).forEach(n -> assertEquals("Other CPU", n.get("machine").get("cpu").asText()));
    }

    private static final Failure PKRU_CRASH = new Failure("main suite", "dev.pkrseq.pkey.ToggleBench.pkru",
            Map.of("pages", "1"), Failure.Kind.CRASHED, 134, List.of(),
            List.of(new Failure.CrashFile("hs_err_pid42.log", List.of("#  SIGSEGV (0xb) at pc=0x1, pid=42, tid=43"))));

    @Test
    void aRatioWhoseBenchmarkCrashedSaysTheInvocationCrashedNotThatItWasNotRun() {
        Run run = new Run(List.of(), new Machine("PKU CPU", 2, "6.18.0", "2.36", true), null, null, List.of(PKRU_CRASH));
        String md = Report.markdown(run, "run.svg");
        assertContains(md,
                "| ToggleBench | `mprotect[pages=1] / pkru[pages=1]` | — | ≥ 50.0 | n/a: the invocation crashed"
                        + " (ToggleBench.pkru (pages=1): exit status 134 (SIGABRT)) |",
                // The crash was the 1-page fork's: the 4096-page ratio is missing for another reason.
                "| `mprotect[pages=4096] / pkru[pages=4096]` | — | ≥ 500.0 | n/a: not in this run"
                        + " (mprotect[pages=4096], pkru[pages=4096]) |",
                "Settings: not recorded (no results).",
                "## Failures\n\n**This run is incomplete: 1 failure, and bench/run exited with status 1.**",
                "### ToggleBench.pkru (pages=1)\n\nIn the invocation 'main suite': the fork crashed: exit"
                        + " status 134 (SIGABRT). Crash log: [hs_err_pid42.log](hs_err_pid42.log).\n\n```\nhs_err_pid42.log:\n"
                        + "  #  SIGSEGV (0xb) at pc=0x1, pid=42, tid=43\n```");
        assertTrue(md.indexOf("## Failures") < md.indexOf("## Ratios"), "failures come first");
    }

    @Test
    void renderCopesWithARunThatHasNoResultAndReadsItsFailuresFile(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("latest.json");
        Files.writeString(json, "[]");
        Machine m = new Machine("PKU CPU", 2, "6.18.0", "2.36", true);
        Run.writeFailures(json, m, List.of(PKRU_CRASH));
        String md = Report.render(json);
        Run run = Run.read(json);
        assertEquals(List.of(PKRU_CRASH), run.failures());
        assertEquals(m, run.machine(), "the machine comes from the failures file when no result carries it");
        assertTrue(md.contains("n/a: the invocation crashed (ToggleBench.pkru (pages=1)"), md);
        assertTrue(Report.ratios(run).startsWith("## Ratios\n"));
        String svg = Files.readString(dir.resolve("latest.svg"));
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setNamespaceAware(true);
        assertEquals("svg", f.newDocumentBuilder().parse(new InputSource(new StringReader(svg))).getDocumentElement()
                .getLocalName());
    }

    @Test
    void numbersKeepThreeSignificantDigits() {
        assertEquals("0.452", Report.number(0.4521));
        assertEquals("4.35", Report.number(4.354));
        assertEquals("15.3", Report.number(15.31));
        assertEquals("152,900", Report.number(152900.2));
    }
}
