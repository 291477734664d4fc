package dev.pkrseq.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import dev.pkrseq.Platform;
import dev.pkrseq.lab.rseq.PerCpuStress;
import dev.pkrseq.rseq.Owner;
import dev.pkrseq.rseq.PerCpuCounter;
import dev.pkrseq.rseq.Rseq;
import dev.pkrseq.rseq.RseqRegistry;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code pkrseq percpu}: a per-CPU counter updated by a generated rseq critical section, under stress. */
@Command(name = "percpu", mixinStandardHelpOptions = true,
        description = {"Add to a per-CPU counter through an rseq critical section and check the sum.",
                "",
                "N platform threads add M times each through a restartable sequence that pkrseq generates as "
                        + "machine code: no atomic instruction. Meanwhile a disturber thread keeps moving the threads "
                        + "between CPUs and yields, so that migrations and preemptions hit critical sections. Prints the "
                        + "expected sum, the sum, the restarts (sections the kernel aborted and the code retried) and the "
                        + "CPU time per add, after 200000 uncounted warm-up adds. Exits 1 if the sum is not exact."})
final class PercpuCommand implements Callable<Integer> {
    /** Adds on one undisturbed thread before the run, not counted. */
    static final int WARMUP_ADDS = 200_000;

    @Spec
    CommandSpec spec;

    @Option(names = "--threads", paramLabel = "N",
            description = "Platform threads that add, 1 to 64 per CPU (4096 at most), under SCHED_IDLE (default: "
                    + "twice the CPUs, ${DEFAULT-VALUE}).")
    int threads = 2 * Math.max(1, Platform.onlineCpus());

    @Option(names = "--adds", paramLabel = "M", description = "Adds of 1 by each thread (default: ${DEFAULT-VALUE}); threads × adds at most 10000000000.")
    long adds = 1_000_000;

    @Option(names = "--json", description = "Print one JSON object instead of text.")
    boolean json;

    @Option(names = "--no-disturber", description = "Run without the disturber, to see what an add costs by itself.")
    boolean noDisturber;

    @Option(names = "--code", description = "Print the generated machine code of this process (a listing), and exit.")
    boolean code;

    /**
     * What {@code pkrseq percpu} reports.
     *
     * @param threads adding threads
     * @param addsPerThread adds of 1 by each
     * @param expected threads × adds
     * @param sum the counter's sum afterwards
     * @param exact sum == expected
     * @param restarts critical sections the kernel aborted and the code retried
     * @param nanosPerAdd the threads' CPU time per add, disturbance included
     * @param elapsedMillis wall time of the adds
     * @param disturbed whether the disturber ran
     * @param affinityChanges sched_setaffinity calls the disturber made
     * @param cpus the CPUs it moved the threads over
     * @param owner whose rseq registration the code used: "glibc" or "pkrseq"
     * @param slots the counter's slots, one per possible CPU
     * @param perCpu each slot's value, by CPU
     */
    record Report(int threads, long addsPerThread, long expected, long sum, boolean exact, long restarts,
            double nanosPerAdd, double elapsedMillis, boolean disturbed, long affinityChanges, List<Integer> cpus,
            String owner, int slots, long[] perCpu) {
    }

    @Mixin
    Progress.Options progress;

    @Override
    public Integer call() throws InterruptedException {
        PrintWriter out = spec.commandLine().getOut();
        if (code) {
            if (json) {
                Json.print(out, "percpu.code", CodeListing.parse(PerCpuCounter.generatedCode()));
            } else {
                out.print(PerCpuCounter.generatedCode());
                out.flush();
            }
            return 0;
        }
        validate();
        PerCpuCounter counter = new PerCpuCounter();
        PerCpuStress.Result r;
        try (Progress p = Progress.of(spec, progress)) {
            p.step(1, 2, "warm-up: " + WARMUP_ADDS + " adds on one thread, not counted");
            // Let the JIT compile the add path first, so that the time per add is not the interpreter's.
            PerCpuStress.run(PerCpuStress.of(counter), 1, WARMUP_ADDS, false);
            counter.reset();
            p.step(2, 2, threads + (threads == 1 ? " thread" : " threads") + " × " + adds + " adds"
                    + (noDisturber ? "" : ", disturbed"));
            r = PerCpuStress.run(PerCpuStress.of(counter), threads, adds, !noDisturber);
        }
        if (counter.owner() == Owner.PKRSEQ) {
            // The workers registered pkrseq's own areas and ended; give the areas back once their tasks are gone.
            RseqRegistry.reclaim();
        }
        Report report = new Report(r.threads(), r.addsPerThread(), r.expected(), r.sum(), r.exact(), r.restarts(),
                Math.round(r.nanosPerAdd() * 100) / 100.0, Math.round(r.elapsedNanos() / 10_000.0) / 100.0, r.disturbed(),
                r.affinityChanges(), r.cpus(), counter.owner().toString(), counter.slots(), counter.perCpu());
        Json.printOr(out, json, "percpu", report, PercpuCommand::print);
        if (!r.exact()) {
            spec.commandLine().getErr().println("pkrseq: percpu: the sum " + r.sum() + " is not the expected " + r.expected()
                    + ": " + (r.expected() - r.sum()) + " adds lost");
            return Main.EXIT_FAILURE;
        }
        return 0;
    }

    private void validate() {
        int max = PerCpuStress.maxThreads();
        if (threads < 1 || threads > max) {
            throw new UsageException("--threads must be 1 to " + max + " here (" + PerCpuStress.maxThreadsReason() + "), not "
                    + threads);
        }
        if (adds < 1) {
            throw new UsageException("--adds must be at least 1, not " + adds);
        }
        if (adds > PerCpuStress.MAX_TOTAL_ADDS / threads) {
            throw new UsageException("--threads " + threads + " × --adds " + adds + " is more than "
                    + PerCpuStress.MAX_TOTAL_ADDS + " adds in all, about a minute of work on two CPUs: make fewer");
        }
    }

    static void print(PrintWriter out, Report r) {
        out.println("pkrseq percpu: " + r.threads() + (r.threads() == 1 ? " thread" : " threads") + " × " + r.addsPerThread()
                + " adds of 1" + (r.disturbed() ? ", while a disturber moves them over CPUs " + cpuList(r.cpus())
                        + " and yields" : ", undisturbed"));
        out.println();
        Table t = new Table("", "").limit(1, 90)
                .row("expected", r.expected())
                .row("sum", r.sum() + (r.exact() ? " (exact)" : " (NOT exact: " + (r.expected() - r.sum()) + " lost)"))
                .row("restarts", r.restarts() + " (critical sections the kernel aborted and the code retried)")
                .row("time per add", String.format(Locale.ROOT, "%.2f ns", r.nanosPerAdd())
                        + " (the threads' CPU time per add" + (r.disturbed() ? ", disturbance included)" : ")"))
                .row("elapsed", String.format(Locale.ROOT, "%.2f ms", r.elapsedMillis()));
        if (r.disturbed()) {
            t.row("affinity changes", r.affinityChanges());
        }
        t.row("per CPU", perCpu(r.perCpu()))
                .row("registration", r.owner().equals("glibc")
                        ? "glibc: the code finds struct rseq at %fs:0x" + Long.toHexString(Rseq.glibcOffset().orElse(0))
                                + ", thread pointer + __rseq_offset (" + Rseq.glibcOffset().orElse(0) + ")"
                        : "pkrseq: each thread registered its own area, passed to the code")
                .row("slots", r.slots() + ", one per possible CPU, 64 KiB apart (a pool item)")
                .print(out, "  ");
        out.flush();
    }

    private static String perCpu(long[] v) {
        List<String> parts = new ArrayList<>();
        for (int i = 0; i < v.length; i++) {
            parts.add("cpu" + i + " " + v[i]);
        }
        return String.join(", ", parts);
    }

    private static String cpuList(List<Integer> cpus) {
        List<String> parts = new ArrayList<>();
        for (int i = 0; i < cpus.size(); i++) {
            int first = cpus.get(i);
            int last = first;
            while (i + 1 < cpus.size() && cpus.get(i + 1) == last + 1) {
                last = cpus.get(++i);
            }
            parts.add(first == last ? Integer.toString(first) : first + "-" + last);
        }
        return String.join(",", parts);
    }
}
