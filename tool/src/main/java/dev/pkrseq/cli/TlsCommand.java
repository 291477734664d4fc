package dev.pkrseq.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

import dev.pkrseq.lab.Experiment;
import dev.pkrseq.lab.ExperimentResult;
import dev.pkrseq.lab.Experiments;
import dev.pkrseq.lab.tls.TlsExperiments;
import dev.pkrseq.lab.tls.TlsRetagProbe;
import dev.pkrseq.tls.InitialThread;
import dev.pkrseq.tls.PageRule;
import dev.pkrseq.tls.RuleCoverage;
import dev.pkrseq.tls.Tls;
import dev.pkrseq.tls.TlsLayout;
import dev.pkrseq.tls.TlsModule;
import dev.pkrseq.tls.TlsPage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code pkrseq tls}: the static TLS map of a thread, and the two retag rules side by side. */
@Command(name = "tls", mixinStandardHelpOptions = true,
        description = {"Show this thread's static TLS map and the pages a retag would cover.",
                "",
                "Thread pointer, DTV, TCB size, the static TLS bounds, every module's TLS block, and the pages "
                        + "the exact rule and the old fixed window retag. With --retag-demo, retag them with a protection "
                        + "key (in a child JVM) and undo it."})
final class TlsCommand implements Callable<Integer> {
    /** Name of the platform thread {@code --threads} starts. */
    static final String PLATFORM_THREAD = "pkrseq-tls-platform";
    /** Name of the virtual thread {@code --threads} starts. */
    static final String VIRTUAL_THREAD = "pkrseq-tls-virtual";
    private static final int NEAR_PAGES = 64;
    /** Generous: emulated machines start an interpreted JVM slowly. */
    private static final java.time.Duration DEMO_TIMEOUT = java.time.Duration.ofSeconds(600);

    @Option(names = "--threads", description = "Map the calling thread (main), a new platform thread and a virtual thread's carrier, and "
                    + "locate the process's initial thread.")
    boolean threads;

    @Option(names = "--retag-demo", description = "Retag a thread's static TLS with a protection key by the exact rule, page by page, show "
                    + "smaps and the access probe while tagged, restore, free the key and show that nothing is "
                    + "left. Runs in a child JVM: a JVM whose TLS carries a key dies of a signal or a null check.")
    boolean retagDemo;

    @Mixin
    ReportOutput output;

    @Mixin
    Progress.Options progress;

    @Override
    public Integer call() throws InterruptedException {
        PrintWriter out = output.out();
        if (retagDemo && threads) {
            throw new UsageException("--retag-demo retags one thread (a child JVM's main) and does not combine with --threads");
        }
        TlsLayout self = Tls.current();
        if (retagDemo) {
            return demo(out, self);
        }
        List<ExperimentResult> experiments = run(TlsExperiments.layout(self));
        if (!threads) {
            if (output.json) {
                Json.print(out, "tls", TlsReport.of(self, experiments));
            } else {
                printLayout(out, self, true);
                ProbeCommand.printExperiments(out, experiments);
            }
            return 0;
        }
        List<TlsLayout> maps;
        InitialThread initial;
        try (Progress p = Progress.of(output.spec, progress)) {
            p.step(1, 3, "the static TLS of a new platform thread");
            TlsLayout platform = Tls.onPlatformThread(PLATFORM_THREAD);
            p.step(2, 3, "the static TLS of a virtual thread's carrier");
            TlsLayout virtual = Tls.onVirtualThread(VIRTUAL_THREAD);
            p.step(3, 3, "the process's initial thread");
            maps = List.of(self, platform, virtual);
            initial = Tls.initialThread();
        }
        String joins = joins(initial, maps);
        if (output.json) {
            Json.print(out, "tls.threads", new TlsReport.Threads(maps.stream().map(m -> TlsReport.of(m, null)).toList(),
                    TlsReport.initial(initial, joins), experiments));
            return 0;
        }
        printThreads(out, maps, initial, joins);
        ProbeCommand.printExperiments(out, experiments);
        return 0;
    }

    private int demo(PrintWriter out, TlsLayout self) {
        String missing = TlsExperiments.retagUnavailable();
        if (missing != null) {
            List<ExperimentResult> experiments = run(TlsExperiments.layout(self));
            if (output.json) {
                Json.print(out, "tls", TlsReport.of(self, experiments, TlsReport.unavailable(missing)));
            } else {
                out.println("pkrseq tls --retag-demo: retag a thread's static TLS with a protection key, and undo it");
                out.println();
                out.println("Not run: " + missing + ".");
                out.println("The retag needs a CPU with protection keys (pku) that the kernel enabled (ospke).");
                out.println("The pages it would retag are those of the exact rule below.");
                out.println();
                printLayout(out, self, true);
                ProbeCommand.printExperiments(out, experiments);
            }
            return 0;
        }
        TlsRetagProbe.Report r;
        try (Progress p = Progress.of(output.spec, progress)) {
            p.show("retagging in a child JVM (a few seconds: the JVM starts, retags, restores and reports)");
            r = TlsRetagProbe.retag(DEMO_TIMEOUT);
        }
        List<ExperimentResult> experiments = run(TlsExperiments.readingRetag(r));
        if (output.json) {
            Json.print(out, "tls", TlsReport.of(self, experiments, TlsReport.demo(r)));
            return 0;
        }
        printDemo(out, r);
        ProbeCommand.printExperiments(out, experiments);
        return 0;
    }

    /** Runs experiments; they read what is already there and take milliseconds, so they show no progress. */
    private static List<ExperimentResult> run(List<Experiment> experiments) {
        return experiments.stream().map(Experiments::run).toList();
    }

    static void printDemo(PrintWriter out, TlsRetagProbe.Report r) {
        out.println("pkrseq tls --retag-demo: retag a thread's static TLS with a protection key, and undo it");
        out.println();
        for (String line : Table.wrap("The retag runs in a child JVM, on its thread \"" + r.thread() + "\" (tid " + r.tid()
                + "): while a thread's TCB page carries a key, any signal delivered to that thread, an implicit null check"
                + " or another thread's touch kills the JVM, so pkrseq never retags yours.", 100)) {
            out.println(line);
        }
        out.println();
        out.println("1. Allocate a key and retag, page by page (pkey_mprotect per page, each page's protection kept)");
        out.println("  key " + r.key() + ": pkey_alloc, read-write for the retagging thread; tp " + TlsReport.hex(r.threadPointer())
                + ", DTV " + TlsReport.hex(r.dtv()) + (r.dtvPageApart() ? " (its page lies apart from the range)" : ""));
        Table walk = new Table("PAGE", "ROLE", "PROT", "WALK", "HOLDS").limit(4, 50);
        r.pages().forEach(p -> walk.row(TlsReport.hex(p.address()), p.role(), p.perms(), p.walk(), p.holds()));
        walk.print(out, "  ");
        out.println("  asynchronous signals " + (r.signalsBlocked() ? "blocked on the thread until the restore (pthread_sigmask)"
                : "NOT blocked"));
        out.println();
        out.println("2. While tagged");
        out.println("  smaps (read while tagged)");
        Table smaps = new Table("PAGE", "KEY", "MAPPING").limit(2, 70);
        r.pages().forEach(p -> smaps.row(TlsReport.hex(p.address()), p.keyWhileTagged() == null ? "-" : p.keyWhileTagged(),
                p.mapping()));
        smaps.print(out, "    ");
        out.println("    " + (r.strayWhileTagged().isEmpty() ? "key " + r.key() + " on no other page"
                : "key " + r.key() + " ALSO on: " + String.join("; ", r.strayWhileTagged())));
        out.println("  access probe (the kernel reads through a pipe, writes by an atomic add of zero; EFAULT = denied)");
        out.println("    retagged thread (read-write):     TCB page read " + r.tcbRead() + ", errno write " + r.errnoWrite()
                + (r.dtvRead().equals("-") ? "" : ", DTV read " + r.dtvRead()));
        out.println("    thread started before the key (" + r.otherRights() + "): TCB page read " + r.otherTcbRead());
        out.println("  deny rights to the key on the retagged thread");
        out.println("    setRights(NO_ACCESS): " + (r.denyRefused() ? "refused" : "ALLOWED") + "; withRights(NO_WRITE): "
                + (r.scopedDenyRefused() ? "refused" : "ALLOWED") + "; rights now " + r.rightsAfterDeny());
        for (String line : Table.wrap(r.denyMessage(), 94)) {
            out.println("      " + line);
        }
        out.println();
        out.println("3. Restore (key 0 back on exactly the tagged pages) and free the key");
        Table back = new Table("PAGE", "RESTORE", "KEY NOW", "MAPPING").limit(3, 60);
        r.pages().forEach(p -> back.row(TlsReport.hex(p.address()), p.restore(), p.keyAfter() == null ? "-" : p.keyAfter(),
                p.mappingAfter()));
        back.print(out, "  ");
        out.println("  key " + r.key() + " freed (pkey_free)");
        out.println();
        out.println("4. Nothing left");
        out.println("  mappings carrying any key: " + r.left() + "; keys allocatable: " + r.allocatable()
                + "; mappings that hold the pages as before the retag: " + (r.smapsUnchanged() ? "yes" : "NO: " + r.smapsDifference()));
    }

    private static String joins(InitialThread initial, List<TlsLayout> maps) {
        Long tp = initial.joinedThreadPointer();
        if (tp == null) {
            return null;
        }
        return maps.stream().filter(m -> m.threadPointer() == tp).map(m -> m.thread().name()).findFirst()
                .orElse("the thread whose TCB is at " + TlsReport.hex(tp));
    }

    static void printLayout(PrintWriter out, TlsLayout l, boolean ran) {
        out.println("pkrseq tls: static TLS map of " + l.thread().label());
        out.println();
        printThreadSection(out, l, ran);
        out.println();
        printModules(out, l, ran);
        out.println();
        printRules(out, l);
    }

    private static void printThreadSection(PrintWriter out, TlsLayout l, boolean ran) {
        out.println("Thread");
        var t = l.thread();
        String who = t.initialThread() ? "" : "; not the process's initial thread (pid " + t.pid() + ")";
        TlsModule libc = l.module("libc.so.6").orElse(null);
        Table table = new Table("", "").limit(1, 92)
                .row("thread", t.label() + who)
                .row("thread pointer (fs_base)", TlsReport.hex(l.threadPointer()))
                .row("TCB header", (l.headerConsistent() ? "tcb = tp, self = tp: glibc's tcbhead_t"
                        : "tcb " + TlsReport.hex(l.tcbWord()) + ", self " + TlsReport.hex(l.selfWord()) + ": NOT glibc's self pointers"))
                .row("DTV (word at tp+8)", TlsReport.hex(l.dtv()) + ", " + l.dtvLength() + " slots, in "
                        + where(l, l.dtv()) + (l.dtvPageApart() ? " (apart from the exact pages)" : ""))
                .row("static TLS (glibc)", l.staticSize() + " bytes, align " + l.staticAlign()
                        + " (_dl_get_tls_static_info; TCB included)")
                .row("TCB size (TLS_TCB_SIZE)", l.tcbSize() + " bytes: " + l.tcb().explain())
                .row("bounds [low, high)", String.format("[0x%x, 0x%x) = tp - %d .. tp + %d", l.low(), l.high(),
                        l.threadPointer() - l.low(), l.tcbSize()))
                .row("where", l.placement().describe());
        if (!l.tcbSpillPages().isEmpty()) {
            table.row("TCB spill", "struct pthread runs past the TCB page onto " + hexes(l.tcbSpillPages())
                    + (l.tcb().rseqOffset() != null && l.tcb().rseqOffset() >= 0
                            ? " (the rseq area at tp+" + l.tcb().rseqOffset() + " is there)" : ""));
        }
        if (l.rseqArea() != null) {
            table.row("rseq area (glibc's)", TlsReport.hex(l.rseqArea()) + (l.retagCoversRseqArea()
                    ? ": on a page the retag tags; the kernel writes it at every preemption, so denying the thread write"
                            + " access to the key is refused (it would die by SIGSEGV)" : ": not on a page the retag tags"));
        }
        if (ran && l.errnoLocation() != null) {
            long e = l.errnoLocation();
            table.row("errno (__errno_location)", TlsReport.hex(e) + (libc != null && libc.holds(e)
                    ? " inside libc.so.6's block (tp" + (e - l.threadPointer()) + ")" : " NOT inside libc.so.6's block"));
        }
        table.print(out, "  ");
    }

    private static void printModules(PrintWriter out, TlsLayout l, boolean ran) {
        out.println("Modules with TLS (dl_iterate_phdr; blocks " + (ran ? "are this thread's dlpi_tls_data)"
                : "from the thread's own DTV)"));
        Table t = new Table("MODULE", "SIZE", "ALIGN", "BLOCK", "TP+", "PAGE", "DTV", "WHERE").limit(7, 60);
        for (TlsModule m : l.modules()) {
            Long below = m.pageBelowTcb();
            t.row(m.module(), m.size(), m.align(), m.allocated() ? TlsReport.hex(m.block()) : "-",
                    m.offsetFromTp() == null ? "-" : m.offsetFromTp(),
                    below == null ? "-" : Math.abs(below) <= NEAR_PAGES ? below : "far", m.dtv(), m.where());
        }
        t.print(out, "  ");
        out.println("  PAGE = pages below the TCB page (0 = the page that holds tp); DTV = what the thread's DTV entry says");
    }

    private static void printRules(PrintWriter out, TlsLayout l) {
        RuleCoverage exact = l.rule(PageRule.EXACT);
        RuleCoverage window = l.rule(PageRule.FIXED_WINDOW);
        out.println("Retag rules side by side");
        out.println("  exact:  " + PageRule.EXACT.description());
        out.println("  window: " + PageRule.FIXED_WINDOW.description());
        List<Long> all = new ArrayList<>();
        exact.pages().forEach(p -> all.add(p.address()));
        window.pages().forEach(p -> {
            if (!all.contains(p.address())) {
                all.add(p.address());
            }
        });
        all.sort(Long::compareUnsigned);
        Table t = new Table("PAGE", "BELOW", "EXACT", "WINDOW", "MAPPING", "KEY", "HOLDS").limit(4, 44).limit(6, 40);
        boolean keysAbsent = false;
        for (long page : all) {
            TlsPage p = l.describePage(page);
            boolean inExact = exact.pages().stream().anyMatch(x -> x.address() == page);
            boolean inWindow = window.pages().stream().anyMatch(x -> x.address() == page);
            String key;
            if (p.mapping() == null) {
                key = "-";
            } else if (p.key() == null) {
                key = "absent";
                keysAbsent = true;
            } else {
                key = p.key().toString();
            }
            String mapping = p.mapping() == null ? "unmapped (ENOMEM)" : p.mapping().perms() + " " + p.mapping().name()
                    + String.format(" %x-%x", p.mapping().start(), p.mapping().end());
            t.row(TlsReport.hex(page), Math.abs(p.pageBelowTcb()) <= NEAR_PAGES ? p.pageBelowTcb() : "apart",
                    inExact ? "yes" : "-", inWindow ? "yes" : "-", mapping, key, String.join(", ", p.holds()));
        }
        t.print(out, "  ");
        out.println("  exact:  " + summary(l, exact));
        out.println("  window: " + summary(l, window));
        long stackOnly = window.pages().stream().filter(p -> p.holds().equals(List.of("thread stack"))).count();
        long foreign = window.pages().stream().filter(p -> p.holds().equals(List.of("other data"))
                || p.holds().equals(List.of("unmapped"))).count();
        if (stackOnly > 0) {
            out.println("          " + stackOnly + " of its pages hold only this thread's stack, below the static TLS");
        }
        if (foreign > 0) {
            out.println("          " + foreign + " of its pages hold other mappings' data or nothing");
        }
        if (keysAbsent) {
            out.println("  KEY absent: smaps has no ProtectionKey line (the kernel has no protection keys enabled)");
        }
    }

    private static String summary(TlsLayout l, RuleCoverage c) {
        StringBuilder sb = new StringBuilder();
        sb.append(c.pages().size()).append(" page(s)");
        if (c.rule() == PageRule.EXACT) {
            sb.append(" (").append(l.pages().size()).append(" in range")
                    .append(l.dtvPageApart() ? " + DTV apart" : "").append(")");
        }
        sb.append("; DTV ").append(c.coversDtv() ? "covered" : "NOT covered");
        sb.append("; leaves out ").append(c.leftOut().isEmpty() ? "nothing"
                : c.leftOut().stream().map(m -> m.module() + " (" + (m.allocated() ? m.dtv() + " TLS" : "not allocated") + ")")
                        .collect(Collectors.joining(", ")));
        return sb.toString();
    }

    private static void printThreads(PrintWriter out, List<TlsLayout> maps, InitialThread initial, String joins) {
        out.println("pkrseq tls --threads: where each thread's TCB and static TLS sit");
        out.println();
        Table t = new Table("THREAD", "TID", "THREAD POINTER", "TCB SIZE", "DTV IN", "LIBC BLOCK").limit(4, 36);
        for (TlsLayout m : maps) {
            t.row(shortName(m), m.thread().tid(), TlsReport.hex(m.threadPointer()), m.tcbSize() + " (" + m.tcb().method() + ")",
                    where(m, m.dtv()), libc(m));
        }
        if (initial.found()) {
            TlsLayout m = initial.layout();
            t.row("initial (" + m.thread().name() + ")", m.thread().tid(), TlsReport.hex(m.threadPointer()),
                    m.tcbSize() + " (" + m.tcb().method() + ")", where(m, m.dtv()), libc(m));
        }
        t.print(out, "  ");
        out.println();
        out.println("Where");
        Table w = new Table("", "").limit(1, 92);
        for (TlsLayout m : maps) {
            String s = m.placement().describe();
            if (m.thread().virtual()) {
                s += "; this is the carrier's TLS: on a virtual thread, arch_prctl(ARCH_GET_FS) returns the carrier's fs_base";
            }
            w.row(shortName(m), s);
        }
        if (initial.found()) {
            w.row("initial", initial.layout().placement().describe());
        } else {
            w.row("initial", "not found: " + initial.method());
        }
        w.print(out, "  ");
        out.println();
        out.println("Initial thread (tid " + initial.tid() + " = pid)");
        Table i = new Table("", "").limit(1, 92)
                .row("how found", initial.method())
                .row("state", initial.state() == null ? "unknown" : initial.state() + (joins == null ? ""
                        : ", blocked in futex on the tid field of " + joins + "'s TCB: pthread_join, as the java launcher does"))
                .row("syscall", initial.syscall());
        i.print(out, "  ");
        if (initial.found()) {
            TlsLayout m = initial.layout();
            out.println();
            printLayout(out, m, false);
        }
        out.println();
        out.println("The calling thread's full map: pkrseq tls; every thread's: pkrseq tls --threads --json");
    }

    private static String shortName(TlsLayout m) {
        var t = m.thread();
        if (t.virtual()) {
            return "virtual -> " + t.carrier();
        }
        return t.name().equals(PLATFORM_THREAD) ? "platform (new)" : t.name();
    }

    private static String libc(TlsLayout m) {
        return m.module("libc.so.6").filter(TlsModule::allocated)
                .map(x -> "tp" + x.offsetFromTp() + " (" + x.dtv() + ")").orElse("-");
    }

    private static String where(TlsLayout l, long address) {
        return l.snapshot().stream().filter(v -> v.contains(address)).findFirst()
                .map(v -> v.name() + (v.path().isEmpty() ? String.format(" %x-%x", v.start(), v.end()) : ""))
                .map(s -> s + (l.contains(address) ? " (inside [low, high))" : ""))
                .orElse("unmapped");
    }

    private static String hexes(List<Long> pages) {
        return pages.stream().map(TlsReport::hex).collect(Collectors.joining(", "));
    }
}
