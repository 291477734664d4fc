package dev.pkrseq.cli;

import java.util.List;

import com.fasterxml.jackson.annotation.JsonInclude;

import dev.pkrseq.observe.ExperimentResult;
import dev.pkrseq.proc.Vma;
import dev.pkrseq.tls.InitialThread;
import dev.pkrseq.tls.PageRule;
import dev.pkrseq.tls.Placement;
import dev.pkrseq.tls.RuleCoverage;
import dev.pkrseq.tls.TlsLayout;
import dev.pkrseq.tls.TlsModule;
import dev.pkrseq.tls.TlsPage;

/**
 * The JSON shapes of {@code pkrseq tls}. Addresses are hex strings ({@code "0x7f..."}), sizes and
 * offsets are numbers, absent values are null.
 */
final class TlsReport {
    private TlsReport() {
    }

    /** {@code pkrseq tls --json}: one thread's map and the TLS experiments. */
    record Single(ThreadJson thread, String threadPointer, TcbHeader tcbHeader, String dtv, long dtvSlots,
            List<String> dtvPages, boolean dtvPageApart, long staticSize, long staticAlign, long tcbSize,
            String tcbSizeMethod, boolean tcbSizeExact, String tcbSizeExplained, Long rseqOffset, Boolean rseqAgrees,
            String low, String high, String tcbPage, List<String> pages, List<String> tcbSpillPages,
            List<String> pagesToRetag, List<String> fixedWindowPages, PlacementJson placement, List<ModuleJson> modules,
            ErrnoJson errno, List<RuleJson> rules,
            @JsonInclude(JsonInclude.Include.NON_NULL) List<ExperimentResult> experiments) {
    }

    /** {@code pkrseq tls --json --threads}: one map per thread, the initial thread, the experiments. */
    record Threads(List<Single> threads, InitialJson initialThread, List<ExperimentResult> experiments) {
    }

    record ThreadJson(String name, int tid, int pid, boolean initialThread, boolean virtual, String carrier) {
    }

    record TcbHeader(String tcb, String self, boolean consistent) {
    }

    record PlacementJson(String kind, String mapping, String below, String above, String description) {
    }

    record ModuleJson(String module, String path, long moduleId, long size, long align, String block, Long offsetFromTp,
            boolean inStaticTls, Long pageBelowTcb, String dtv, String where) {
    }

    record ErrnoJson(String address, String module, boolean insideBlock) {
    }

    record PageJson(String page, long pageBelowTcb, String mapping, String perms, Integer key, List<String> holds) {
    }

    record RuleJson(String rule, String description, List<PageJson> pages, boolean coversDtv, List<String> leftOut) {
    }

    record InitialJson(boolean found, int tid, String method, String state, String syscall, String joins, Single map) {
    }

    static Single of(TlsLayout l, List<ExperimentResult> experiments) {
        var t = l.thread();
        var tcb = l.tcb();
        Placement p = l.placement();
        return new Single(new ThreadJson(t.name(), t.tid(), t.pid(), t.initialThread(), t.virtual(), t.carrier()),
                hex(l.threadPointer()), new TcbHeader(hex(l.tcbWord()), hex(l.selfWord()), l.headerConsistent()),
                hex(l.dtv()), l.dtvLength(), hex(l.dtvPages()), l.dtvPageApart(), l.staticSize(), l.staticAlign(),
                l.tcbSize(), tcb.method().toString(), tcb.exact(), tcb.explain(), tcb.rseqOffset(), tcb.rseqAgrees(),
                hex(l.low()), hex(l.high()), hex(l.tcbPage()), hex(l.pages()), hex(l.tcbSpillPages()),
                hex(l.pagesToRetag()), hex(l.fixedWindowPages()),
                new PlacementJson(p.kind().toString(), Placement.describe(p.mapping()), vma(p.below()), vma(p.above()),
                        p.describe()),
                l.modules().stream().map(TlsReport::module).toList(), errno(l),
                List.of(rule(l.rule(PageRule.EXACT)), rule(l.rule(PageRule.FIXED_WINDOW))), experiments);
    }

    static InitialJson initial(InitialThread it, String joins) {
        return new InitialJson(it.found(), it.tid(), it.method(), it.state(), it.syscall(), joins,
                it.found() ? of(it.layout(), null) : null);
    }

    private static ModuleJson module(TlsModule m) {
        return new ModuleJson(m.module(), m.path(), m.moduleId(), m.size(), m.align(), m.allocated() ? hex(m.block()) : null,
                m.offsetFromTp(), m.inStaticTls(), m.pageBelowTcb(), m.dtv().toString(), m.where());
    }

    static ErrnoJson errno(TlsLayout l) {
        Long e = l.errnoLocation();
        if (e == null) {
            return null;
        }
        return l.module("libc.so.6").map(m -> new ErrnoJson(hex(e), m.module(), m.holds(e)))
                .orElse(new ErrnoJson(hex(e), null, false));
    }

    private static RuleJson rule(RuleCoverage c) {
        return new RuleJson(c.rule().toString(), c.rule().description(), c.pages().stream().map(TlsReport::page).toList(),
                c.coversDtv(), c.leftOut().stream().map(TlsModule::module).toList());
    }

    private static PageJson page(TlsPage p) {
        Vma v = p.mapping();
        return new PageJson(hex(p.address()), p.pageBelowTcb(), v == null ? null : Placement.describe(v),
                v == null ? null : v.perms(), p.key(), p.holds());
    }

    private static String vma(Vma v) {
        return v == null ? null : Placement.describe(v);
    }

    static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }

    static List<String> hex(List<Long> v) {
        return v.stream().map(TlsReport::hex).toList();
    }
}
