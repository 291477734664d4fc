package dev.pkrseq.bench;

import java.util.List;
import java.util.Map;

/**
 * A benchmark, or a whole JMH invocation, that produced no result, and why. bench/run writes these to
 * {@code latest.failures.json} beside {@code latest.json}, and the report shows them before the ratios.
 *
 * @param invocation the suite's name for the JMH invocation, for example {@code main suite}
 * @param benchmark the benchmark's full name, for example {@code dev.pkrseq.pkey.TagBench.tlsRetagRestore};
 *     null when the invocation failed before or outside any benchmark
 * @param params the benchmark's {@code @Param} values; empty when none or unknown
 * @param kind what happened
 * @param exitStatus the fork's exit status for {@link Kind#CRASHED}, the JMH host's for
 *     {@link Kind#INVOCATION}; null when the process exited normally or its status is unknown
 * @param detail what JMH printed about it: the exception's first lines, or the tail of the dead fork's
 *     output; possibly empty
 * @param logs the crash logs (hs_err, replay) the failure left in the results folder
 */
public record Failure(String invocation, String benchmark, Map<String, String> params, Kind kind, Integer exitStatus,
        List<String> detail, List<CrashFile> logs) {

    /** What went wrong. */
    public enum Kind {
        /** A JMH fork exited with a non-zero status: it crashed (hs_err) or was killed. */
        CRASHED,
        /** The benchmark threw: JMH printed {@code <failure>} and the exception. */
        THREW,
        /** JMH ended the benchmark without a single measured iteration. */
        NO_RESULT,
        /** The JMH host itself failed: it exited non-zero, crashed, or JMH refused the arguments. */
        INVOCATION
    }

    /**
     * One crash log in the results folder.
     *
     * @param file its name, relative to the results folder
     * @param summary its first telling lines: the signal, the problematic frame, the current thread,
     *     siginfo and the top frames
     */
    public record CrashFile(String file, List<String> summary) {
        /**
         * Copies the lists.
         *
         * @param file its name
         * @param summary its lines
         */
        public CrashFile {
            summary = List.copyOf(summary);
        }
    }

    /**
     * Copies the collections; a null params or list is empty.
     *
     * @param invocation the invocation
     * @param benchmark the benchmark or null
     * @param params the parameters
     * @param kind what happened
     * @param exitStatus the exit status or null
     * @param detail JMH's lines
     * @param logs the crash logs
     */
    public Failure {
        params = params == null ? Map.of() : Map.copyOf(params);
        detail = detail == null ? List.of() : List.copyOf(detail);
        logs = logs == null ? List.of() : List.copyOf(logs);
    }

    /**
     * The benchmark class's simple name, as {@link Result#group()} has it.
     *
     * @return for example {@code TagBench}, or empty when no benchmark is known
     */
    public String group() {
        if (benchmark == null || benchmark.lastIndexOf('.') < 0) {
            return "";
        }
        String cls = benchmark.substring(0, benchmark.lastIndexOf('.'));
        return cls.substring(cls.lastIndexOf('.') + 1);
    }

    /**
     * The benchmark method.
     *
     * @return for example {@code tlsRetagRestore}, or empty when no benchmark is known
     */
    public String method() {
        return benchmark == null ? "" : benchmark.substring(benchmark.lastIndexOf('.') + 1);
    }

    /**
     * The benchmark as the report names it.
     *
     * @return for example {@code TagBench.tlsRetagRestore (pages=1)}, or {@code the invocation 'main suite'}
     */
    public String label() {
        if (benchmark == null) {
            return "the invocation '" + invocation + "'";
        }
        StringBuilder sb = new StringBuilder(group()).append('.').append(method());
        if (!params.isEmpty()) {
            sb.append(" (");
            String sep = "";
            for (Map.Entry<String, String> p : new java.util.TreeMap<>(params).entrySet()) {
                sb.append(sep).append(p.getKey()).append('=').append(p.getValue());
                sep = ", ";
            }
            sb.append(')');
        }
        return sb.toString();
    }

    /**
     * What happened, in a few words.
     *
     * @return for example {@code the fork crashed: exit status 134 (SIGABRT)}
     */
    public String what() {
        return switch (kind) {
            case CRASHED -> "the fork crashed: " + status(exitStatus) + (logs.isEmpty() ? ", no crash log" : "");
            case THREW -> "the benchmark threw" + (detail.isEmpty() ? "" : ": " + detail.get(0));
            case NO_RESULT -> "JMH recorded no measured iteration";
            case INVOCATION -> "the JMH invocation failed: " + status(exitStatus)
                    + (detail.isEmpty() ? "" : ": " + detail.get(0));
        };
    }

    /**
     * The short reason a ratio that needs this benchmark is not computed.
     *
     * @return for example {@code the invocation crashed (TagBench.tlsRetagRestore: exit status 134 (SIGABRT))}
     */
    public String ratioReason() {
        return switch (kind) {
            case CRASHED -> "the invocation crashed (" + label() + ": " + status(exitStatus) + ")";
            case THREW -> "the benchmark threw (" + label() + ")";
            case NO_RESULT -> "the benchmark recorded nothing (" + label() + ")";
            case INVOCATION -> "the invocation '" + invocation + "' failed (" + status(exitStatus) + ")";
        };
    }

    /** An exit status in words: a status above 128 is a signal. */
    static String status(Integer exitStatus) {
        if (exitStatus == null) {
            return "exit status unknown";
        }
        int s = exitStatus;
        String signal = switch (s - 128) {
            case 6 -> "SIGABRT";
            case 9 -> "SIGKILL";
            case 11 -> "SIGSEGV";
            case 15 -> "SIGTERM";
            default -> s > 128 && s < 128 + 65 ? "signal " + (s - 128) : null;
        };
        return "exit status " + s + (signal == null ? "" : " (" + signal + ")");
    }
}
