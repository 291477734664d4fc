package dev.pkrseq.cli;

import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import dev.pkrseq.lab.rseq.ParamTest;
import dev.pkrseq.Platform;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code pkrseq paramtest}: the kernel's rseq param_test, on pkrseq's primitives and per-CPU structures. */
@Command(name = "paramtest", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Run the kernel's rseq param_test on pkrseq's per-CPU primitives and structures, and check "
                + "that the result is exact.",
                "",
                "Threads hammer a per-CPU structure through rseq critical sections generated as machine code, with "
                        + "delays injected at param_test's points, yields, signals or sleeps; afterwards every sum must be "
                        + "exact. Test types: s spinlock, l list, b ring buffer of pointers, m ring buffer of items copied "
                        + "in and out, i increment, r membarrier (the rseq fence). Exits 1 if a check does not hold.",
                "mm_cid (--mm-cid) needs pkrseq's own rseq registration where glibc's does not cover mm_cid (glibc 2.35 "
                        + "to 2.40): the test then runs in a child JVM with GLIBC_TUNABLES=glibc.pthread.rseq=0."})
final class ParamtestCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "-T", paramLabel = "TEST", description = "Test: s (spinlock), l (list), b (buffer), m (memcpy buffer), "
            + "i (increment), r (membarrier). Default: ${DEFAULT-VALUE}.")
    char test = 's';

    @Option(names = "-t", paramLabel = "N", description = "Threads (default: 6 × the online CPUs, ${DEFAULT-VALUE}).")
    int threads = 6 * Math.max(1, Platform.onlineCpus());

    @Option(names = "-r", paramLabel = "N", description = "Repetitions per thread (default: ${DEFAULT-VALUE}).")
    long reps = 5000;

    @Option(names = "-1", paramLabel = "LOOPS", description = "Delay injection 1: before the section is armed.")
    int loops1;

    @Option(names = "-2", paramLabel = "LOOPS", description = "Delay injection 2: in the section, before the CPU is read.")
    int loops2;

    @Option(names = "-3", paramLabel = "LOOPS", description = "Delay injection 3: after the CPU is checked.")
    int loops3;

    @Option(names = "-4", paramLabel = "LOOPS", description = "Delay injection 4: after the first comparison (add: after "
            + "the commit).")
    int loops4;

    @Option(names = "-5", paramLabel = "LOOPS", description = "Delay injection 5: after the second comparison, speculative "
            + "store or copy (compare-and-store: after the commit).")
    int loops5;

    @Option(names = "-6", paramLabel = "LOOPS", description = "Delay injection 6: after the commit.")
    int loops6;

    @Option(names = "-7", paramLabel = "LOOPS", description = "Delay injection 7 (-1 to enable -m): accepted; as in today's "
            + "param_test, no helper injects there.")
    int loops7;

    @Option(names = "-8", paramLabel = "LOOPS", description = "Delay injection 8 (-1 to enable -m): accepted; as in today's "
            + "param_test, no helper injects there.")
    int loops8;

    @Option(names = "-9", paramLabel = "LOOPS", description = "Delay injection 9 (-1 to enable -m): in Java before every "
            + "section.")
    int loops9;

    @Option(names = "-m", paramLabel = "N", description = "Yield, signal or sleep every N visits of a -1 point (default 0: "
            + "never).")
    int modulo;

    @Option(names = "-y", description = "Yield (also between a pop and its push).")
    boolean yield;

    @Option(names = "-k", description = "Signal the thread (SIGUSR2, which HotSpot ignores on a running thread).")
    boolean signal;

    @Option(names = "-s", paramLabel = "MS", description = "Sleep this many milliseconds (default 0: no sleep).")
    int sleep;

    @Option(names = "-M", description = "Release order for the buffers' offers (the same code on x86-TSO).")
    boolean release;

    @Option(names = "--mm-cid", description = "Index per-CPU data by mm_cid instead of cpu_id.")
    boolean mmCid;

    @Option(names = "--json", description = "Print one JSON object instead of text; its 'exact' is true only when every "
            + "check held.")
    boolean json;

    @Override
    public Integer call() throws InterruptedException {
        ParamTest.Options options;
        try {
            options = new ParamTest.Options(ParamTest.Type.of(test), threads, reps,
                    new int[] {0, loops1, loops2, loops3, loops4, loops5, loops6, loops7, loops8, loops9}, modulo, yield,
                    signal, sleep, mmCid, release);
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
        ParamTest.Result r = ParamTest.run(options);
        return finish(r, json, spec.commandLine().getOut(), spec.commandLine().getErr());
    }

    /**
     * One check as the JSON shows it.
     *
     * @param name what was compared
     * @param expected the value it must have
     * @param actual the value it had
     * @param held expected == actual
     */
    record CheckRow(String name, long expected, long actual, boolean held) {
    }

    /**
     * What {@code pkrseq paramtest --json} prints: {@link ParamTest.Result} with each check's verdict.
     *
     * @param type the test letter
     * @param threads worker threads
     * @param reps repetitions per thread
     * @param index "cpu_id" or "mm_cid"
     * @param owner "glibc" or "pkrseq"
     * @param delays the injected delays as options, or "none"
     * @param modulo -m
     * @param yield -y
     * @param signal -k
     * @param sleepMillis -s
     * @param checks every check
     * @param exact true only when every check held
     * @param restarts sections aborted and made again
     * @param yields yields injected
     * @param signals signals sent
     * @param sleeps sleeps injected
     * @param fences rseq fences made (membarrier test)
     * @param elapsedMillis the workers' wall time
     * @param where this JVM, or the child JVM and why
     */
    record Report(String type, int threads, long reps, String index, String owner, String delays, int modulo, boolean yield,
            boolean signal, int sleepMillis, List<CheckRow> checks, boolean exact, long restarts, long yields, long signals,
            long sleeps, long fences, double elapsedMillis, String where) {
        static Report of(ParamTest.Result r) {
            return new Report(r.type(), r.threads(), r.reps(), r.index(), r.owner(), r.delays(), r.modulo(), r.yield(),
                    r.signal(), r.sleepMillis(), r.checks().stream().map(c -> new CheckRow(c.name(), c.expected(), c.actual(),
                            c.held())).toList(), r.exact(), r.restarts(), r.yields(), r.signals(), r.sleeps(), r.fences(),
                    r.elapsedMillis(), r.where());
        }
    }

    /** Prints the result and returns the exit status: 1 when a check did not hold. */
    static int finish(ParamTest.Result r, boolean json, PrintWriter out, PrintWriter err) {
        if (json) {
            Json.print(out, "paramtest", Report.of(r));
        } else {
            print(out, r);
        }
        if (!r.exact()) {
            err.println("pkrseq: paramtest: -T " + r.type() + " is not exact: "
                    + r.checks().stream().filter(c -> !c.held()).map(c -> c.name() + " " + c.actual() + ", expected "
                            + c.expected()).reduce((a, b) -> a + "; " + b).orElse("no check was made"));
            err.flush();
            return Main.EXIT_FAILURE;
        }
        return 0;
    }

    static void print(PrintWriter out, ParamTest.Result r) {
        ParamTest.Type type = ParamTest.Type.of(r.type().charAt(0));
        out.println("pkrseq paramtest -T " + r.type() + " (" + type.title() + "): " + r.threads() + " threads × " + r.reps()
                + " reps, indexed by " + r.index() + ", " + r.owner() + " registration");
        out.println();
        Table t = new Table("", "").limit(1, 90);
        for (ParamTest.Check c : r.checks()) {
            t.row(c.name(), c.actual() + (c.held() ? " (exact)" : " (NOT exact: expected " + c.expected() + ")"));
        }
        t.row("injected", injected(r))
                .row("restarts", r.restarts() + " (critical sections the kernel aborted and the code made again)")
                .rowIf(r.fences() > 0, "fences", r.fences() + " (membarrier PRIVATE_EXPEDITED_RSEQ)")
                .row("elapsed", String.format(Locale.ROOT, "%.2f ms", r.elapsedMillis()))
                .row("ran in", r.where())
                .row("result", r.exact() ? "exact" : "NOT exact")
                .print(out, "  ");
        out.flush();
    }

    private static String injected(ParamTest.Result r) {
        StringBuilder sb = new StringBuilder(r.delays().equals("none") ? "no delays" : "delays " + r.delays());
        if (r.modulo() > 0) {
            sb.append("; every ").append(r.modulo()).append(" visits:");
            if (r.yield()) {
                sb.append(" ").append(r.yields()).append(" yields");
            }
            if (r.signal()) {
                sb.append(" ").append(r.signals()).append(" signals");
            }
            if (r.sleepMillis() > 0) {
                sb.append(" ").append(r.sleeps()).append(" sleeps of ").append(r.sleepMillis()).append(" ms");
            }
        } else if (r.yield()) {
            sb.append("; ").append(r.yields()).append(" yields between pop and push");
        }
        return sb.toString();
    }
}
