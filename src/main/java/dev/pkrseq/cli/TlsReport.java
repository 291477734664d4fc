package dev.pkrseq.cli;

import java.util.List;

import com.fasterxml.jackson.annotation.JsonInclude;

import dev.pkrseq.observe.ExperimentResult;
import dev.pkrseq.observe.TlsRetagProbe;
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
            String rseqArea, boolean retagCoversRseqArea,
            String low, String high, String tcbPage, List<String> pages, List<String> tcbSpillPages,
            List<String> pagesToRetag, List<String> fixedWindowPages, PlacementJson placement, List<ModuleJson> modules,
            ErrnoJson errno, List<RuleJson> rules,
            @JsonInclude(JsonInclude.Include.NON_NULL) List<ExperimentResult> experiments,
            @JsonInclude(JsonInclude.Include.NON_NULL) RetagDemoJson retagDemo) {
    }

    /**
     * {@code pkrseq tls --retag-demo --json}: the child JVM's retag, or why it could not run
     * ({@code available} false and {@code reason}).
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record RetagDemoJson(boolean available, String reason, String ranIn, String thread, Integer tid, String threadPointer,
            String dtv, Boolean dtvPageApart, Integer key, Boolean signalsBlocked, List<RetagPageJson> pages,
            List<String> strayWhileTagged, List<String> strayAfter, ProbesJson probes, DenyJson deny,
            Boolean smapsUnchanged, String smapsDifference, String left, Integer allocatableAfter, Long elapsedMillis) {
    }

    record RetagPageJson(String page, String role, String perms, String walk, Integer keyWhileTagged, String restore,
            Integer keyAfter, String mappingWhileTagged, String mappingAfter, String holds) {
    }

    record ProbesJson(String tcbRead, String errnoWrite, String dtvRead, int otherThreadTid, String otherThreadRights,
            String otherThreadTcbRead) {
    }

    record DenyJson(boolean refused, String message, boolean scopedRefused, String rightsAfter, String dtvPageOnly,
            String dtvPageOnlyMessage) {
    }

    static RetagDemoJson unavailable(String reason) {
        return new RetagDemoJson(false, reason, null, null, null, null, null, null, null, null, null, null, null, null,
                null, null, null, null, null, null);
    }

    static RetagDemoJson demo(TlsRetagProbe.Report r) {
        return new RetagDemoJson(true, null, "a child JVM", r.thread(), r.tid(), hex(r.threadPointer()), hex(r.dtv()),
                r.dtvPageApart(), r.key(), r.signalsBlocked(),
                r.pages().stream().map(p -> new RetagPageJson(hex(p.address()), p.role(), p.perms(), p.walk(),
                        p.keyWhileTagged(), p.restore(), p.keyAfter(), p.mapping(), p.mappingAfter(), p.holds())).toList(),
                r.strayWhileTagged(), r.strayAfter(),
                new ProbesJson(r.tcbRead(), r.errnoWrite(), r.dtvRead(), r.otherTid(), r.otherRights(), r.otherTcbRead()),
                new DenyJson(r.denyRefused(), r.denyMessage(), r.scopedDenyRefused(), r.rightsAfterDeny(), r.dtvOnlyDeny(),
                        r.dtvOnlyMessage()),
                r.smapsUnchanged(), r.smapsDifference(), r.left(), r.allocatable(), r.elapsed().toMillis());
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
        return of(l, experiments, null);
    }

    static Single of(TlsLayout l, List<ExperimentResult> experiments, RetagDemoJson demo) {
        var t = l.thread();
        var tcb = l.tcb();
        Placement p = l.placement();
        return new Single(new ThreadJson(t.name(), t.tid(), t.pid(), t.initialThread(), t.virtual(), t.carrier()),
                hex(l.threadPointer()), new TcbHeader(hex(l.tcbWord()), hex(l.selfWord()), l.headerConsistent()),
                hex(l.dtv()), l.dtvLength(), hex(l.dtvPages()), l.dtvPageApart(), l.staticSize(), l.staticAlign(),
                l.tcbSize(), tcb.method().toString(), tcb.exact(), tcb.explain(), tcb.rseqOffset(), tcb.rseqAgrees(),
                l.rseqArea() == null ? null : hex(l.rseqArea()), l.retagCoversRseqArea(),
                hex(l.low()), hex(l.high()), hex(l.tcbPage()), hex(l.pages()), hex(l.tcbSpillPages()),
                hex(l.pagesToRetag()), hex(l.fixedWindowPages()),
                new PlacementJson(p.kind().toString(), Placement.describe(p.mapping()), vma(p.below()), vma(p.above()),
                        p.describe()),
                l.modules().stream().map(TlsReport::module).toList(), errno(l),
                List.of(rule(l.rule(PageRule.EXACT)), rule(l.rule(PageRule.FIXED_WINDOW))), experiments, demo);
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
