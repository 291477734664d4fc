package dev.pkrseq.cli;

import java.util.List;

import com.fasterxml.jackson.annotation.JsonInclude;

import dev.pkrseq.lab.ExperimentResult;
import dev.pkrseq.lab.tls.TlsRetagProbe;
import dev.pkrseq.Mapping;
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

    /**
     * {@code pkrseq tls --json}: one thread's map and the TLS experiments.
     *
     * @param thread the thread mapped
     * @param threadPointer its thread pointer (fs_base)
     * @param tcbHeader the TCB header's first words
     * @param dtv the dynamic thread vector (the word at tp+8)
     * @param dtvSlots the number of module slots in the DTV ({@code dtv[-1].counter}), 0 when unreadable
     * @param dtvPages the pages the DTV occupies
     * @param dtvPageApart whether the DTV lies outside [low, high)
     * @param staticSize glibc's static TLS size, TCB included ({@code _dl_get_tls_static_info})
     * @param staticAlign the static TLS alignment
     * @param tcbSize TLS_TCB_SIZE: the bytes from tp to the end of struct pthread
     * @param tcbSizeMethod how tcbSize was found
     * @param tcbSizeExact whether that method gives it exactly
     * @param tcbSizeExplained the arithmetic, in words
     * @param rseqOffset {@code __rseq_offset}, null without it
     * @param rseqAgrees whether the rseq area lies where tcbSize says struct pthread is, null without rseq
     * @param low the static TLS's lowest address, tp - (static size - TLS_TCB_SIZE)
     * @param high one past its highest, tp + TLS_TCB_SIZE
     * @param tcbPage the page that holds tp
     * @param pages the pages [low, high) touches
     * @param tcbSpillPages pages of struct pthread past the TCB page
     * @param pagesToRetag the pages the exact rule retags
     * @param fixedWindowPages the pages the old fixed window retags
     * @param placement where the static TLS lies
     * @param modules every module with TLS
     * @param errno where {@code __errno_location} points, null where it was not asked
     * @param rules the exact rule and the fixed window, side by side
     * @param experiments the TLS experiments, in order; absent in a map inside {@code tls.threads}
     * @param retagDemo {@code --retag-demo}'s retag, or why it did not run; absent without that option
     */
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
    record RetagDemoJson(boolean available, String reason, String ranIn, ThreadRef thread, String threadPointer,
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
                null, null, null, null, null);
    }

    static RetagDemoJson demo(TlsRetagProbe.Report r) {
        return new RetagDemoJson(true, null, "a child JVM", new ThreadRef(r.thread(), r.tid()), hex(r.threadPointer()), hex(r.dtv()),
                r.dtvPageApart(), r.key(), r.signalsBlocked(),
                r.pages().stream().map(p -> new RetagPageJson(hex(p.address()), p.role(), p.perms(), p.walk(),
                        p.keyWhileTagged(), p.restore(), p.keyAfter(), p.mapping(), p.mappingAfter(), p.holds())).toList(),
                r.strayWhileTagged(), r.strayAfter(),
                new ProbesJson(r.tcbRead(), r.errnoWrite(), r.dtvRead(), r.otherTid(), r.otherRights(), r.otherTcbRead()),
                new DenyJson(r.denyRefused(), r.denyMessage(), r.scopedDenyRefused(), r.rightsAfterDeny(), r.dtvOnlyDeny(),
                        r.dtvOnlyMessage()),
                r.smapsUnchanged(), r.smapsDifference(), r.left(), r.allocatable(), r.elapsed().toMillis());
    }

    /**
     * {@code pkrseq tls --json --threads}: one map per thread, the initial thread, the experiments.
     *
     * @param threads the maps of the calling thread, a new platform thread and a virtual thread's carrier
     * @param initialThread the process's initial thread
     * @param experiments the TLS experiments, in order
     */
    record Threads(List<Single> threads, InitialJson initialThread, List<ExperimentResult> experiments) {
    }

    /**
     * A thread whose TLS was mapped.
     *
     * @param name its name
     * @param tid its kernel task id
     * @param pid the process id
     * @param initialThread whether it is the process's initial thread (tid = pid)
     * @param virtual whether it is a virtual thread, whose TLS is its carrier's
     * @param carrier the carrier's name for a virtual thread, null otherwise
     */
    record ThreadJson(String name, int tid, int pid, boolean initialThread, boolean virtual, String carrier) {
    }

    /**
     * The TCB header (glibc's tcbhead_t).
     *
     * @param tcb the word at tp
     * @param self the word at tp+16
     * @param consistent whether both equal tp, as glibc sets them
     */
    record TcbHeader(String tcb, String self, boolean consistent) {
    }

    /**
     * Where a thread's static TLS lies.
     *
     * @param kind for example "stack-top"
     * @param mapping the mapping that holds it
     * @param below the mapping below
     * @param above the mapping above
     * @param description the placement in words
     */
    record PlacementJson(String kind, String mapping, String below, String above, String description) {
    }

    /**
     * A module's TLS block.
     *
     * @param module the file name
     * @param path its path
     * @param moduleId dlpi_tls_modid
     * @param size the block's size in bytes
     * @param align its alignment
     * @param block its address, null when not allocated for this thread
     * @param offsetFromTp block - tp, null when not allocated
     * @param inStaticTls whether the block lies in static TLS
     * @param pageBelowTcb pages between the block's page and the TCB page, null when not allocated
     * @param dtv what the thread's DTV entry says: "static", "dynamic" or "unallocated"
     * @param where the block's place in words
     */
    record ModuleJson(String module, String path, long moduleId, long size, long align, String block, Long offsetFromTp,
            boolean inStaticTls, Long pageBelowTcb, String dtv, String where) {
    }

    /**
     * Where this thread's errno lives.
     *
     * @param address {@code __errno_location()}
     * @param module the module whose block should hold it, null without libc.so.6
     * @param insideBlock whether that block holds it
     */
    record ErrnoJson(String address, String module, boolean insideBlock) {
    }

    /**
     * A page a retag rule covers.
     *
     * @param page its address
     * @param pageBelowTcb pages below the TCB page (0 = the page that holds tp)
     * @param mapping the mapping it lies in, null when unmapped
     * @param perms that mapping's protection, null when unmapped
     * @param key its protection key from smaps, null where smaps shows none
     * @param holds what lies in the page, for example "static TLS", "DTV", "thread stack"
     */
    record PageJson(String page, long pageBelowTcb, String mapping, String perms, Integer key, List<String> holds) {
    }

    /**
     * One retag rule's coverage.
     *
     * @param rule "exact" or "fixed-window"
     * @param description the rule in words
     * @param pages the pages it retags
     * @param coversDtv whether they include the DTV
     * @param leftOut modules with TLS that the pages miss
     */
    record RuleJson(String rule, String description, List<PageJson> pages, boolean coversDtv, List<String> leftOut) {
    }

    /**
     * The process's initial thread.
     *
     * @param found whether its TLS could be mapped
     * @param tid its task id, which is the pid
     * @param method how it was found, or why not
     * @param state its scheduler state letter, null where unreadable
     * @param syscall its /proc syscall line, null where unreadable
     * @param joins the thread it waits for in pthread_join, null when it waits for none
     * @param map its map (a {@code tls} document without schema), null when not found
     */
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
        Mapping v = p.mapping();
        return new PageJson(hex(p.address()), p.pageBelowTcb(), v == null ? null : Placement.describe(v),
                v == null ? null : v.perms(), p.key(), p.holds());
    }

    private static String vma(Mapping v) {
        return v == null ? null : Placement.describe(v);
    }

    static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }

    static List<String> hex(List<Long> v) {
        return v.stream().map(TlsReport::hex).toList();
    }
}
