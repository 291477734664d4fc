package dev.pkrseq.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import dev.pkrseq.lab.rseq.ParamTest;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code pkrseq paramtest}: the report, its JSON, the exit status, param_test's option forms, usage errors. */
class ParamtestCommandTest {
    @Test
    void textReportShowsEveryCheckAndWhetherItWasExact() {
        Features.assumeRseq();
        ProbeCommandTest.Run r = Commands.ok("paramtest", "-T", "i", "-t", "4", "-r", "1000");
        assertTrue(r.out.startsWith("pkrseq paramtest -T i (increment): 4 threads × 1000 reps, indexed by cpu_id"), r.out);
        assertTrue(r.out.contains("sum of the per-CPU counts  4000 (exact)\n"), r.out);
        assertTrue(r.out.matches("(?s).*\\n  result +exact\\n.*"), r.out);
        assertEquals("", r.err);
    }

    @Test
    void jsonIsOneObjectWhoseExactIsTrueOnlyWhenEveryCheckHeld() {
        Features.assumeRseq();
        JsonNode j = Commands.json("paramtest", "-T", "l", "-t", "4", "-r", "300", "-3", "100", "-9",
                "-1", "-m", "2", "-y", "--json");
        assertEquals("l", j.get("type").asText());
        assertTrue(j.get("exact").asBoolean());
        assertEquals("-3 100 -9 -1", j.get("delays").asText());
        assertTrue(j.get("checks").size() >= 3);
        for (JsonNode c : j.get("checks")) {
            assertTrue(c.get("held").asBoolean(), c.toString());
            assertEquals(c.get("expected").asLong(), c.get("actual").asLong());
        }
        assertTrue(j.get("yields").asLong() > 0);
    }

    @Test
    void minusOneIsTakenAsTheValueOfAnInjectionPointAsParamTestTakesIt() {
        Features.assumeRseq();
        JsonNode j = Commands.json("paramtest", "-T", "s", "-t", "2", "-r", "100", "-9", "-1", "-m", "1", "-k", "--json");
        assertTrue(j.get("signals").asLong() >= 200, j.toString());
    }

    @Test
    void mmCidRunsUnderPkrseqsOwnRegistrationInAChildJvm() {
        Features.assumeMmCid();
        JsonNode j = Commands.json("paramtest", "-T", "b", "-t", "4", "-r", "200", "--mm-cid", "--json");
        assertEquals("mm_cid", j.get("index").asText());
        assertEquals("pkrseq", j.get("owner").asText());
        assertTrue(j.get("exact").asBoolean());
    }

    @Test
    void inexactResultExitsOneAndNamesTheCheckThatFailed() {
        ParamTest.Result inexact = new ParamTest.Result("l", 12, 100, "cpu_id", "glibc", "none", 0, false, false, 0,
                List.of(new ParamTest.Check("sum of the nodes' values", 10100, 10098), new ParamTest.Check("nodes found",
                        200, 200)), false, 0, 0, 0, 0, 0, 1.0, "this JVM");
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = ParamtestCommand.finish(inexact, false, new PrintWriter(out, true), new PrintWriter(err, true));
        assertEquals(1, status);
        assertTrue(out.toString().contains("10098 (NOT exact: expected 10100)"), out.toString());
        assertEquals("pkrseq: paramtest: -T l is not exact: sum of the nodes' values 10098, expected 10100\n", err.toString());
    }

    @ParameterizedTest
    @CsvSource(delimiter = ';', value = {
            "-T;x;no test type 'x'",
            "-t;0;-t must be 1 to 4096, not 0",
            "-r;0;-r must be at least 1, not 0",
            "-3;-1;-3 must be 0 or more, not -1",
            "-9;-2;-9 must be -1 (with -m) or more, not -2",
            "-m;-1;-m must be 0 or more, not -1"})
    void badValueIsAOneLineUsageError(String option, String value, String message) {
        ProbeCommandTest.Run r = new ProbeCommandTest.Run("paramtest", option, value);
        Commands.assertUsageError(r, message);
    }
}
