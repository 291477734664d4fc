package dev.pkrseq.bench;

import java.util.Map;

/**
 * One JMH result, as the report uses it.
 *
 * @param benchmark the full name, for example {@code dev.pkrseq.rseq.CurrentCpuBench.rseqCpuId}
 * @param group the benchmark class's simple name, for example {@code CurrentCpuBench}
 * @param method the method, for example {@code rseqCpuId}
 * @param params the {@code @Param} values, in declaration order
 * @param threads benchmark threads
 * @param forks forks
 * @param score the primary metric's score
 * @param error its error (99.9% half-width), NaN when JMH could not compute one
 * @param unit the score's unit, for example {@code ns/op}
 */
public record Result(String benchmark, String group, String method, Map<String, String> params, int threads,
        int forks, double score, double error, String unit) {

    /**
     * The method and its parameters, for tables and the chart.
     *
     * @return for example {@code mprotect (pages=16)}
     */
    public String label() {
        if (params.isEmpty() && threads == 1) {
            return method;
        }
        StringBuilder sb = new StringBuilder(method).append(" (");
        String sep = "";
        for (Map.Entry<String, String> p : params.entrySet()) {
            sb.append(sep).append(p.getKey()).append('=').append(p.getValue());
            sep = ", ";
        }
        if (threads != 1) {
            sb.append(sep).append(threads).append(" threads");
        }
        return sb.append(')').toString();
    }
}
