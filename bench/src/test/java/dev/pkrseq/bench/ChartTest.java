package dev.pkrseq.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

/** The chart says what the report says: scores with their intervals, whole labels, every ratio's verdict. */
class ChartTest {
    private static Result result(String group, String method, int threads, double score, double error) {
        return new Result("x." + group + "." + method, group, method, Map.of(), threads, 3, score, error, "ns/op");
    }

    private static Run run(List<Result> results) {
        return new Run(results, new Machine("Test CPU", 2, "6.18", "2.36", false), "25", "3 forks", List.of());
    }

    @Test
    void everyBarHasAnErrorBarFromTheConfidenceInterval() {
        String svg = Chart.svg(run(List.of(result("CurrentCpuBench", "plainLoad", 1, 1.7, 0.3),
                result("CurrentCpuBench", "rseqCpuId", 1, 2.0, 0.2))));
        // Two bars, two error-bar lines: black, 1.5 wide (axes and gridlines are grey and thinner).
        assertEquals(2, svg.split("stroke-width:1.5;stroke:rgb\\(0,0,0\\)", -1).length - 1, svg);
        assertTrue(svg.contains("error bars: JMH") && svg.contains("99.9% confidence interval"), "the axis says what the bars are");
    }

    @Test
    void anErrorLargerThanTheScoreRunsToTheAxisInsteadOfBreakingTheSvg() {
        String svg = Chart.svg(run(List.of(result("CurrentCpuBench", "plainLoad", 1, 17, 71),
                result("CurrentCpuBench", "rseqCpuId", 1, 2.0, 0.2))));
        assertFalse(svg.contains("NaN") || svg.contains("Infinity"), "every coordinate is a number");
    }

    @Test
    void oneAndTwoThreadBarsOfTheSameMethodSayTheirThreads() {
        List<Result> all = List.of(result("PerCpuCounterBench", "atomicLongIncrement", 1, 2.3, 0.1),
                result("PerCpuCounterBench", "atomicLongIncrement", 2, 9.7, 1.5));
        assertEquals("PerCpuCounterBench  atomicLongIncrement (1 thread)", Chart.label(all.get(0), all));
        assertEquals("PerCpuCounterBench  atomicLongIncrement (2 threads)", Chart.label(all.get(1), all));
        String svg = Chart.svg(run(all));
        assertTrue(svg.contains("atomicLongIncrement (1 thread)") && svg.contains("atomicLongIncrement (2 threads)"),
                "labels are whole, not cut to 'atomicLongIncrement ...'");
    }

    @Test
    void theRatioPanelListsEveryRatioWithItsTargetAndVerdict() {
        String svg = Chart.svg(run(List.of(result("CurrentCpuBench", "plainLoad", 1, 1.7, 0.3),
                result("CurrentCpuBench", "rseqCpuId", 1, 2.0, 0.2),
                result("CurrentCpuBench", "getcpuSyscall", 1, 20.0, 1))));
        assertTrue(svg.contains(">Ratios: "), "the panel's title");
        for (Ratio r : Ratio.ALL) {
            assertTrue(svg.contains(r.formula().replace("<", "&lt;").replace(">", "&gt;")), r.formula());
            assertTrue(svg.contains(r.targetText()), r.targetText());
        }
        assertTrue(svg.contains(">PASS<"), "rseqCpuId / plainLoad = 1.18 <= 2.0");
        assertTrue(svg.contains(">FAIL<"), "getcpuSyscall / rseqCpuId = 10 < 50");
        assertTrue(svg.contains(">n/a: this machine has no protection keys<"), "ToggleBench on a machine without PKU");
    }
}
