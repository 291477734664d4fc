package dev.pkrseq.bench;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;

/**
 * A ratio between benchmark scores with its target, as the project's compass sets it. Each side is the
 * smallest score among its terms, so {@code min(a, b) / c} is one ratio.
 *
 * @param group the benchmark class
 * @param numerator terms whose smallest score is the numerator
 * @param denominator terms whose smallest score is the denominator
 * @param atMost true for "at most target", false for "at least target"
 * @param target the bound
 * @param why what the ratio shows
 */
public record Ratio(String group, List<Term> numerator, List<Term> denominator, boolean atMost, double target,
        String why) {

    /**
     * One benchmark score: a method, optionally pinned to parameter values and a thread count.
     *
     * @param method the benchmark method
     * @param params parameter values that must match, empty for any
     * @param threads the thread count that must match, 0 for any
     */
    public record Term(String method, Map<String, String> params, int threads) {
        static Term of(String method) {
            return new Term(method, Map.of(), 0);
        }

        Optional<Result> find(List<Result> results, String group) {
            return results.stream()
                    .filter(r -> r.group().equals(group) && r.method().equals(method))
                    .filter(r -> threads == 0 || r.threads() == threads)
                    .filter(r -> params.entrySet().stream().allMatch(p -> p.getValue().equals(r.params().get(p.getKey()))))
                    .findFirst();
        }

        /** Whether a failed benchmark is this term's: same method, and the term's parameter values. */
        boolean matches(Failure f) {
            return f.method().equals(method)
                    && params.entrySet().stream().allMatch(p -> p.getValue().equals(f.params().get(p.getKey())));
        }

        String text() {
            StringBuilder sb = new StringBuilder(method);
            if (!params.isEmpty() || threads != 0) {
                sb.append('[');
                String sep = "";
                for (Map.Entry<String, String> p : params.entrySet()) {
                    sb.append(sep).append(p.getKey()).append('=').append(p.getValue());
                    sep = ", ";
                }
                if (threads != 0) {
                    sb.append(sep).append(threads).append(threads == 1 ? " thread" : " threads");
                }
                sb.append(']');
            }
            return sb.toString();
        }
    }

    /** The ratios the report computes, in report order. */
    public static final List<Ratio> ALL = List.of(
            new Ratio("CurrentCpuBench", List.of(Term.of("rseqCpuId")), List.of(Term.of("plainLoad")), true, 2.0,
                    "pkrseq's cpu_id read against a plain int load"),
            new Ratio("CurrentCpuBench", List.of(Term.of("schedGetcpu"), Term.of("schedGetcpuCritical")),
                    List.of(Term.of("rseqCpuId")), false, 3,
                    "the best downcall to sched_getcpu against pkrseq's load"),
            new Ratio("CurrentCpuBench", List.of(Term.of("getcpuSyscall")), List.of(Term.of("rseqCpuId")), false, 50,
                    "the getcpu system call against pkrseq's load"),
            new Ratio("ToggleBench", List.of(new Term("mprotect", Map.of("pages", "1"), 0)),
                    List.of(new Term("pkru", Map.of("pages", "1"), 0)), false, 50,
                    "re-protecting 1 page with mprotect against flipping PKRU"),
            new Ratio("ToggleBench", List.of(new Term("mprotect", Map.of("pages", "4096"), 0)),
                    List.of(new Term("pkru", Map.of("pages", "4096"), 0)), false, 500,
                    "re-protecting 4096 pages with mprotect against flipping PKRU"),
            new Ratio("PkruBench", List.of(Term.of("pkeySet")), List.of(Term.of("glibcPkeySetCritical")), true, 1.3,
                    "pkrseq's guarded setRights against glibc's bare pkey_set"),
            new Ratio("JfrBench", List.of(Term.of("layerCallNoRecording")), List.of(Term.of("bareCall")), true, 1.1,
                    "the native layer with its JFR event, no recording, against the bare call"),
            new Ratio("PerCpuCounterBench", List.of(new Term("rseqAdd", Map.of(), 1)),
                    List.of(new Term("longAdderIncrement", Map.of(), 1)), true, 1.0,
                    "one thread: the rseq per-CPU add against LongAdder"),
            new Ratio("PerCpuCounterBench", List.of(new Term("atomicLongIncrement", Map.of(), 2)),
                    List.of(new Term("rseqAdd", Map.of(), 2)), false, 2,
                    "two threads: a shared AtomicLong against the rseq per-CPU add"),
            new Ratio("PerCpuCounterBench", List.of(new Term("rseqAdd", Map.of(), 2)),
                    List.of(new Term("longAdderIncrement", Map.of(), 2)), true, 1.0,
                    "two threads: the rseq per-CPU add against LongAdder"),
            new Ratio("PerCpuCounterBench", List.of(new Term("rseqAddAll8", Map.of(), 2)),
                    List.of(new Term("longAdderIncrement8", Map.of(), 2)), true, 1.0,
                    "two threads, per add: eight per-CPU adds in one downcall against eight LongAdder increments"),
            new Ratio("PerCpuListBench", List.of(new Term("rseqPopPush", Map.of(), 2)),
                    List.of(new Term("treiberPopPush", Map.of(), 2)), true, 0.5,
                    "two threads: the per-CPU list's pop and push against a Treiber stack's"),
            new Ratio("PerCpuListBench", List.of(new Term("rseqPopPushBatch8", Map.of(), 2)),
                    List.of(new Term("treiberPopPush", Map.of(), 2)), true, 0.5,
                    "two threads, per node: the per-CPU list in batches of 8 (one call each way) against a Treiber stack"),
            new Ratio("SwitchCurveBench", List.of(new Term("withRights", Map.of("tokens", "4000"), 0)),
                    List.of(new Term("baseline", Map.of("tokens", "4000"), 0)), true, 1.01,
                    "a withRights deny+restore after work worth about 100,000 switches/s, against the work alone"),
            new Ratio("SwitchCurveBench", List.of(new Term("wrpkru", Map.of("tokens", "0"), 0)),
                    List.of(new Term("pkeySet", Map.of("tokens", "0"), 0)), true, 1.0,
                    "WRPKRU in generated code against glibc's pkey_set, deny+restore (bench/c/pkru_switch.c gives C's)"));

    /**
     * The ratio's formula.
     *
     * @return for example {@code min(schedGetcpu, schedGetcpuCritical) / rseqCpuId}
     */
    public String formula() {
        return side(numerator) + " / " + side(denominator);
    }

    /**
     * The target as text.
     *
     * @return for example {@code <= 2.0}
     */
    public String targetText() {
        return (atMost ? "≤ " : "≥ ") + fmt(target);
    }

    /**
     * Computes the ratio from a run.
     *
     * @param results the run's results
     * @return the value, or empty when a term is missing from the run
     */
    public OptionalDouble value(List<Result> results) {
        OptionalDouble n = smallest(numerator, results);
        OptionalDouble d = smallest(denominator, results);
        return n.isPresent() && d.isPresent() ? OptionalDouble.of(n.getAsDouble() / d.getAsDouble()) : OptionalDouble.empty();
    }

    /**
     * Whether a value meets the target.
     *
     * @param value the ratio
     * @return true on PASS
     */
    public boolean passes(double value) {
        return atMost ? value <= target : value >= target;
    }

    /**
     * Both sides' terms.
     *
     * @return the numerator's terms, then the denominator's
     */
    public List<Term> terms() {
        return java.util.stream.Stream.concat(numerator.stream(), denominator.stream()).toList();
    }

    /**
     * The terms the run lacks.
     *
     * @param results the run's results
     * @return the missing terms' texts
     */
    public List<String> missing(List<Result> results) {
        return terms().stream().filter(t -> t.find(results, group).isEmpty()).map(Term::text).toList();
    }

    private OptionalDouble smallest(List<Term> terms, List<Result> results) {
        double best = Double.POSITIVE_INFINITY;
        for (Term t : terms) {
            Optional<Result> r = t.find(results, group);
            if (r.isEmpty()) {
                return OptionalDouble.empty();
            }
            best = Math.min(best, r.get().score());
        }
        return OptionalDouble.of(best);
    }

    private static String side(List<Term> terms) {
        return terms.size() == 1 ? terms.get(0).text()
                : "min(" + String.join(", ", terms.stream().map(Term::text).toList()) + ")";
    }

    static String fmt(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e6 ? String.format("%.1f", v) : String.format("%.2f", v);
    }
}
