package dev.pkrseq.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

import dev.pkrseq.lab.Experiment;
import dev.pkrseq.lab.ExperimentResult;
import dev.pkrseq.lab.Experiments;
import dev.pkrseq.lab.Outcome;
import dev.pkrseq.lab.Probe;
import dev.pkrseq.lab.ProbeReport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code pkrseq probe}: what this JVM sees of protection keys and rseq, and the experiments. */
@Command(name = "probe", mixinStandardHelpOptions = true,
        description = {"Report what this JVM sees and run the experiments.",
                "",
                "Platform, protection keys, the thread's rseq area and static TLS, then the experiments that "
                        + "observe the kernel's behaviour, each with what was expected and what was seen."})
final class ProbeCommand implements Callable<Integer> {
    @Option(names = "--only", paramLabel = "PREFIX", split = ",",
            description = "Run only the experiments whose id starts with one of these prefixes, for example pkey.,rseq.cpu")
    List<String> only;

    @Option(names = "--no-experiments", description = "Report the platform only; run no experiment.")
    boolean noExperiments;

    @Mixin
    ReportOutput output;

    @Mixin
    Progress.Options progress;

    @Override
    public Integer call() {
        List<Experiment> all = Experiments.all();
        checkOnly(all);
        List<Experiment> selected = noExperiments ? List.of()
                : all.stream().filter(e -> only == null || only.stream().anyMatch(e.id()::startsWith)).toList();
        List<ExperimentResult> results = new ArrayList<>();
        try (Progress p = Progress.of(output.spec, progress)) {
            for (int k = 0; k < selected.size(); k++) {
                p.step(k + 1, selected.size(), selected.get(k).id());
                results.add(Experiments.run(selected.get(k)));
            }
        }
        // The platform, keys, rseq and thread sections after the experiments, as Probe.run orders them.
        ProbeReport platform = Probe.run(id -> false);
        ProbeReport report = new ProbeReport(platform.platform(), platform.pkeys(), platform.rseq(), platform.thread(),
                results);
        output.print("probe", report, ProbeCommand::printText);
        return 0;
    }

    /** Every --only prefix must select an experiment: a typo would otherwise run nothing and say nothing. */
    private void checkOnly(List<Experiment> all) {
        if (only == null) {
            return;
        }
        for (String prefix : only) {
            if (all.stream().noneMatch(e -> e.id().startsWith(prefix))) {
                Set<String> groups = new TreeSet<>();
                all.forEach(e -> groups.add(e.id().substring(0, e.id().indexOf('.') + 1)));
                throw new UsageException("--only " + prefix + " matches no experiment; the ids start with "
                        + String.join(", ", groups) + " (" + all.stream().map(Experiment::id)
                                .collect(Collectors.joining(", ")) + ")");
            }
        }
    }

    static void printText(PrintWriter out, ProbeReport r) {
        ProbeReport.Platform p = r.platform();
        out.println("pkrseq probe: what this JVM sees");
        out.println();
        out.println("Platform");
        new Table("", "")
                .row("arch", p.arch())
                .row("kernel", p.kernel())
                .row("C library", p.glibc() == null ? "not glibc (no gnu_get_libc_version)" : "glibc " + p.glibc())
                .row("page size", p.pageSize() + " bytes")
                .row("CPUs online", p.cpus())
                .row("JDK", p.jdk())
                .print(out, "  ");
        out.println();

        ProbeReport.Pkeys k = r.pkeys();
        out.println("Protection keys");
        new Table("", "").limit(1, 90)
                .row("CPU has pku", yesNo(k.cpuFlag()))
                .row("kernel enabled (ospke)", yesNo(k.osEnabled()))
                .row("pkey_alloc works", yesNo(k.supported()))
                .row("keys allocatable now", k.allocatable())
                .row("PKRU (this thread)", k.pkru() == null ? "unreadable: RDPKRU would raise SIGILL without ospke" : k.pkru())
                .rowIf(k.reason() != null, "why not", k.reason())
                .print(out, "  ");
        out.println();

        ProbeReport.RseqStatus s = r.rseq();
        out.println("rseq (this thread)");
        new Table("", "").limit(1, 90)
                .row("owner", s.owner())
                .row("__rseq_offset", orAbsent(s.offset(), "not exported"))
                .row("__rseq_size", orAbsent(s.size(), "not exported"))
                .row("AT_RSEQ_FEATURE_SIZE", orAbsent(s.featureSize(), "not passed (kernel before 6.3)"))
                .row("AT_RSEQ_ALIGN", orAbsent(s.align(), "not passed (kernel before 6.3)"))
                .row("cpu_id", orAbsent(s.cpuId(), "not registered"))
                .row("cpu_id_start", orAbsent(s.cpuIdStart(), "not registered"))
                .row("node_id", orAbsent(s.nodeId(), "not covered"))
                .row("mm_cid", orAbsent(s.mmCid(), "not covered"))
                .rowIf(s.reason() != null, "note", s.reason())
                .print(out, "  ");
        out.println();

        ProbeReport.ThreadInfo t = r.thread();
        out.println("Thread");
        new Table("", "")
                .row("name", t.name())
                .row("tid", t.tid())
                .row("thread pointer", orAbsent(t.threadPointer(), "unknown on this architecture"))
                .print(out, "  ");

        printExperiments(out, r.experiments());
    }

    static void printExperiments(PrintWriter out, List<ExperimentResult> results) {
        if (results.isEmpty()) {
            return;
        }
        out.println();
        long ok = results.stream().filter(e -> e.outcome() == Outcome.AS_EXPECTED).count();
        long bad = results.stream().filter(e -> e.outcome() == Outcome.UNEXPECTED).count();
        long skipped = results.stream().filter(e -> e.outcome() == Outcome.SKIPPED).count();
        out.printf("Experiments: %d as expected, %d unexpected, %d skipped%n", ok, bad, skipped);
        Table table = new Table("ID", "EXPECTED", "OBSERVED", "OUTCOME").limit(1, 40).limit(2, 40);
        for (ExperimentResult e : results) {
            table.row(e.id(), e.expected(), e.observed(), e.outcome());
        }
        table.print(out, "  ");
        // One line per distinct detail: sixteen experiments skipped for want of PKU say so once.
        Map<String, List<String>> byDetail = new LinkedHashMap<>();
        for (ExperimentResult e : results) {
            if (e.outcome() != Outcome.AS_EXPECTED && e.detail() != null && !e.detail().isEmpty()) {
                byDetail.computeIfAbsent(e.detail(), d -> new ArrayList<>()).add(e.id());
            }
        }
        if (!byDetail.isEmpty()) {
            out.println();
            out.println("Details");
            byDetail.forEach((detail, ids) -> {
                String who = ids.size() == 1 ? ids.get(0) : ids.size() + " experiments (" + String.join(", ", ids) + ")";
                for (String line : Table.wrap(who + ": " + detail, 100)) {
                    out.println("  " + line);
                }
            });
        }
        out.flush();
    }

    static String yesNo(boolean b) {
        return b ? "yes" : "no";
    }

    static String orAbsent(Object v, String absent) {
        return v == null ? "none: " + absent : v.toString();
    }
}
