package dev.pkrseq.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Turns a saved run (JMH JSON) into the Markdown report and the SVG chart. It reads nothing but the
 * JSON, so anyone can regenerate both from a saved run:
 * {@code java -cp bench/target/benchmarks.jar dev.pkrseq.bench.Report bench/results/latest.json}.
 */
public final class Report {
    /** Benchmark classes that need protection keys, for the "not measured" reason: the classes in Suite's list. */
    private static final Set<String> NEEDS_PKEYS = Suite.NEEDS_PKEYS.stream()
            .map(b -> b.contains(".") ? b.substring(0, b.indexOf('.')) : b).collect(Collectors.toUnmodifiableSet());

    private Report() {
    }

    /**
     * Writes {@code X.md} and {@code X.svg} beside {@code X.json}.
     *
     * @param args the JSON file
     * @throws IOException when a file cannot be read or written
     */
    public static void main(String[] args) throws IOException {
        if (args.length != 1) {
            System.err.println("usage: Report RUN.json   (writes RUN.md and RUN.svg beside it)");
            System.exit(2);
        }
        Path json = Path.of(args[0]);
        render(json);
    }

    /**
     * Renders the report and chart of a run, beside its JSON.
     *
     * @param json the run
     * @return the Markdown written
     * @throws IOException when a file cannot be read or written
     */
    public static String render(Path json) throws IOException {
        Run run = Run.read(json);
        String base = json.getFileName().toString().replaceFirst("\\.json$", "");
        Path dir = json.toAbsolutePath().getParent();
        String md = markdown(run, base + ".svg");
        Files.writeString(dir.resolve(base + ".md"), md);
        Files.writeString(dir.resolve(base + ".svg"), Chart.svg(run));
        return md;
    }

    /**
     * The Markdown report.
     *
     * @param run the run
     * @param svgName the chart's file name, linked from the report
     * @return the report
     */
    public static String markdown(Run run, String svgName) {
        StringBuilder md = new StringBuilder();
        md.append("# pkrseq benchmarks\n\n");
        String jdk = run.jdk() == null ? "not recorded (no results)" : run.jdk();
        md.append("Machine: ").append(run.machine() == null ? "not recorded (run through bench/run to record it); JDK "
                + jdk : run.machine().line(jdk)).append("  \n");
        md.append("Settings: ").append(run.settings() == null ? "not recorded (no results)" : run.settings())
                .append(". Scores are average time per operation: lower is better; ± is JMH's 99.9% confidence"
                + " half-width.\n\n");
        md.append("> These machines are shared, virtualised and noisy (2 vCPUs here). Read the ratios, which compare "
                + "benchmarks measured in the same run, rather than absolute numbers, and expect a few percent of "
                + "drift between runs.\n\n");
        md.append("![chart](").append(svgName).append(")\n\n");
        if (!run.failures().isEmpty()) {
            md.append(failures(run));
        }
        md.append(ratios(run));

        Map<String, List<Result>> groups = new LinkedHashMap<>();
        for (Result r : run.results()) {
            groups.computeIfAbsent(r.group(), g -> new ArrayList<>()).add(r);
        }
        for (Map.Entry<String, List<Result>> g : groups.entrySet()) {
            md.append("## ").append(g.getKey()).append("\n\n");
            md.append("| benchmark | score | ± error | unit |\n");
            md.append("|---|---:|---:|---|\n");
            for (Result r : g.getValue()) {
                md.append("| ").append(r.label()).append(" | ").append(number(r.score())).append(" | ")
                        .append(Double.isNaN(r.error()) ? "—" : number(r.error())).append(" | ").append(r.unit())
                        .append(" |\n");
            }
            md.append('\n');
        }
        return md.toString();
    }

    /**
     * The report's Ratios section: every ratio, computed or with the reason it is not.
     *
     * @param run the run
     * @return the section, heading included
     */
    public static String ratios(Run run) {
        StringBuilder md = new StringBuilder();
        md.append("## Ratios\n\n");
        md.append("| group | ratio | value | target | result | what it shows |\n");
        md.append("|---|---|---:|---|---|---|\n");
        for (Ratio r : Ratio.ALL) {
            OptionalDouble v = r.value(run.results());
            String value = v.isPresent() ? Ratio.fmt(v.getAsDouble()) : "—";
            String result = v.isPresent() ? (r.passes(v.getAsDouble()) ? "PASS" : "FAIL") : "n/a: " + notMeasured(run, r);
            md.append("| ").append(r.group()).append(" | `").append(r.formula()).append("` | ").append(value)
                    .append(" | ").append(r.targetText()).append(" | ").append(result).append(" | ").append(r.why())
                    .append(" |\n");
        }
        md.append('\n');
        return md.toString();
    }

    /**
     * The report's Failures section: what failed, how, and the crash log's first lines.
     *
     * @param run the run
     * @return the section, heading included; empty when nothing failed
     */
    public static String failures(Run run) {
        List<Failure> failures = run.failures();
        if (failures.isEmpty()) {
            return "";
        }
        StringBuilder md = new StringBuilder();
        md.append("## Failures\n\n");
        md.append("**This run is incomplete: ").append(failures.size())
                .append(failures.size() == 1 ? " failure" : " failures")
                .append(", and bench/run exited with status 1.** Crash logs are in the results folder, beside this report.\n\n");
        for (Failure f : failures) {
            md.append("### ").append(f.label()).append("\n\n");
            md.append("In the invocation '").append(f.invocation()).append("': ").append(f.what()).append(".");
            for (Failure.CrashFile c : f.logs()) {
                md.append(" Crash log: [").append(c.file()).append("](").append(c.file()).append(").");
            }
            md.append("\n\n");
            List<String> lines = new ArrayList<>();
            for (Failure.CrashFile c : f.logs()) {
                if (!c.summary().isEmpty()) {
                    lines.add(c.file() + ":");
                    c.summary().forEach(l -> lines.add("  " + l));
                }
            }
            if (lines.isEmpty() || f.kind() != Failure.Kind.CRASHED) {
                // No crash log to quote: what JMH printed is all there is.
                lines.addAll(f.detail());
            }
            if (!lines.isEmpty()) {
                md.append("```\n");
                lines.forEach(l -> md.append(l).append('\n'));
                md.append("```\n\n");
            }
        }
        return md.toString();
    }

    private static String notMeasured(Run run, Ratio r) {
        List<String> missingTerms = r.missing(run.results());
        // A missing term whose benchmark failed: say so, not "not in this run".
        for (Failure f : run.failures()) {
            if (f.benchmark() != null && f.group().equals(r.group())
                    && r.terms().stream().anyMatch(t -> missingTerms.contains(t.text()) && t.matches(f))) {
                return f.ratioReason();
            }
        }
        String missing = "not in this run (" + String.join(", ", missingTerms) + ")";
        List<Failure> whole = run.failures().stream().filter(f -> f.benchmark() == null).toList();
        if (!whole.isEmpty()) {
            return missing + "; " + String.join("; ", whole.stream().map(Failure::ratioReason).toList());
        }
        if (NEEDS_PKEYS.contains(r.group()) && run.machine() != null && !run.machine().pkeys()) {
            return missing + ": this machine has no protection keys";
        }
        return missing;
    }

    /** Three significant digits, without exponent notation. */
    static String number(double v) {
        double a = Math.abs(v);
        if (a >= 100) {
            return String.format(Locale.ROOT, "%,.0f", v);
        }
        if (a >= 10) {
            return String.format(Locale.ROOT, "%.1f", v);
        }
        if (a >= 1) {
            return String.format(Locale.ROOT, "%.2f", v);
        }
        return String.format(Locale.ROOT, "%.3f", v);
    }
}
