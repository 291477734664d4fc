package dev.pkrseq.tls;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;

import dev.pkrseq.proc.Smaps;
import dev.pkrseq.sys.CStructs;
import dev.pkrseq.Mapping;

/**
 * The static TLS map of one thread on x86_64 glibc (TLS_TCB_AT_TP), computed at run time.
 *
 * <pre>
 *   lower addresses
 *   low = tp + TLS_TCB_SIZE - dl_tls_static_size
 *     [ static TLS blocks of the modules loaded at start-up, then surplus ]   below tp
 *   tp  [ TCB: struct pthread; tcbhead_t {tcb = tp, dtv, self = tp, ...} ]  tp .. tp + TLS_TCB_SIZE
 *   high = tp + TLS_TCB_SIZE
 *   higher addresses
 * </pre>
 *
 * <p>The seed's rule (IA2's loader change), as the seed states it: retag with the protection key
 * exactly the pages that hold the static TLS block plus the TCB page. The lower bound comes from
 * {@code dl_tls_static_size} and {@code TLS_TCB_SIZE}, rounded down to a page:
 * {@code page(tp - (dl_tls_static_size - TLS_TCB_SIZE))}; the upper end is the TCB page, the page that
 * holds tp. Walk page by page, because the block can span several VMAs and one pkey_mprotect over a
 * hole fails with ENOMEM. Retag the DTV page separately when it lies outside that range. It replaced
 * "the TCB page and eight pages below". {@link #pages()} is the range, {@link #pagesToRetag()} adds the
 * DTV, {@link #fixedWindowPages()} is the old window.
 *
 * <p>Instances are immutable snapshots; the smaps snapshot they hold is the one taken while computing.
 */
public final class TlsLayout {
    private final ThreadIdentity thread;
    private final long threadPointer;
    private final long tcbWord;
    private final long selfWord;
    private final long dtv;
    private final long dtvLength;
    private final long staticSize;
    private final long staticAlign;
    private final TcbSize tcb;
    private final long pageSize;
    private final List<TlsModule> modules;
    private final Placement placement;
    private final Long errnoLocation;
    private final List<Mapping> snapshot;

    TlsLayout(ThreadIdentity thread, long threadPointer, long tcbWord, long selfWord, long dtv, long dtvLength,
            long staticSize, long staticAlign, TcbSize tcb, long pageSize, List<TlsModule> modules,
            Placement placement, Long errnoLocation, List<Mapping> snapshot) {
        this.thread = thread;
        this.threadPointer = threadPointer;
        this.tcbWord = tcbWord;
        this.selfWord = selfWord;
        this.dtv = dtv;
        this.dtvLength = dtvLength;
        this.staticSize = staticSize;
        this.staticAlign = staticAlign;
        this.tcb = tcb;
        this.pageSize = pageSize;
        this.modules = List.copyOf(modules);
        this.placement = placement;
        this.errnoLocation = errnoLocation;
        this.snapshot = List.copyOf(snapshot);
    }

    /**
     * Whose map this is.
     *
     * @return the thread
     */
    public ThreadIdentity thread() {
        return thread;
    }

    /**
     * The thread pointer, fs_base: the address of the TCB.
     *
     * @return tp
     */
    public long threadPointer() {
        return threadPointer;
    }

    /**
     * The first word of the TCB, {@code tcbhead_t.tcb}, which glibc sets to tp itself.
     *
     * @return the word at tp
     */
    public long tcbWord() {
        return tcbWord;
    }

    /**
     * {@code tcbhead_t.self} at tp+16, which glibc sets to tp itself.
     *
     * @return the word at tp+16
     */
    public long selfWord() {
        return selfWord;
    }

    /**
     * Whether the TCB header is glibc's: the words at tp and tp+16 both equal tp.
     *
     * @return true when they do
     */
    public boolean headerConsistent() {
        return tcbWord == threadPointer && selfWord == threadPointer;
    }

    /**
     * The DTV, the word at tp+8 ({@code tcbhead_t.dtv}). It points at entry 0 (the generation); entry
     * -1 holds the number of module slots.
     *
     * @return the DTV's address
     */
    public long dtv() {
        return dtv;
    }

    /**
     * The number of module slots in the DTV ({@code dtv[-1].counter}).
     *
     * @return the slot count, or 0 when the DTV could not be read
     */
    public long dtvLength() {
        return dtvLength;
    }

    /**
     * {@code dl_tls_static_size}: bytes of static TLS per thread, TLS_TCB_SIZE included.
     *
     * @return the size
     */
    public long staticSize() {
        return staticSize;
    }

    /**
     * {@code dl_tls_static_align}.
     *
     * @return the alignment
     */
    public long staticAlign() {
        return staticAlign;
    }

    /**
     * TLS_TCB_SIZE and how it was derived.
     *
     * @return the derivation
     */
    public TcbSize tcb() {
        return tcb;
    }

    /**
     * TLS_TCB_SIZE, {@code sizeof (struct pthread)}.
     *
     * @return bytes
     */
    public long tcbSize() {
        return tcb.bytes();
    }

    /**
     * The page size the rules use.
     *
     * @return bytes
     */
    public long pageSize() {
        return pageSize;
    }

    /**
     * The static TLS block's lower bound: {@code tp - (dl_tls_static_size - TLS_TCB_SIZE)}, where glibc's
     * allocation for the thread begins.
     *
     * @return low
     */
    public long low() {
        return threadPointer - (staticSize - tcb.bytes());
    }

    /**
     * One past the TCB: {@code tp + TLS_TCB_SIZE}, where glibc's allocation for the thread ends.
     *
     * @return high
     */
    public long high() {
        return threadPointer + tcb.bytes();
    }

    /**
     * Whether an address lies in {@code [low, high)}.
     *
     * @param address an address
     * @return true when inside
     */
    public boolean contains(long address) {
        return Long.compareUnsigned(address, low()) >= 0 && Long.compareUnsigned(address, high()) < 0;
    }

    /**
     * The TCB page: the page that holds tp.
     *
     * @return its address
     */
    public long tcbPage() {
        return page(threadPointer);
    }

    /**
     * The seed's exact page range: from {@code low} rounded down to a page up to and including the TCB
     * page.
     *
     * @return the pages, lowest first
     */
    public List<Long> pages() {
        return range(page(low()), tcbPage());
    }

    /**
     * Pages the TCB itself runs onto above the TCB page: when tp sits low in its page,
     * {@code struct pthread} (the rseq area at its end included) continues on the next page, which the
     * seed's range does not cover. Empty for pthread-created threads, whose TCB ends at the top of the
     * stack mapping.
     *
     * @return the pages above the TCB page that hold part of the TCB
     */
    public List<Long> tcbSpillPages() {
        long last = page(high() - 1);
        return last == tcbPage() ? List.of() : range(tcbPage() + pageSize, last);
    }

    /**
     * The old heuristic's window: the TCB page and the {@value PageRule#FIXED_WINDOW_PAGES_BELOW} pages
     * below it.
     *
     * @return nine pages, lowest first
     */
    public List<Long> fixedWindowPages() {
        return range(tcbPage() - PageRule.FIXED_WINDOW_PAGES_BELOW * pageSize, tcbPage());
    }

    /**
     * The pages the DTV array occupies: {@code [dtv - 16, dtv + 16 * (slots + 1))}, usually one.
     *
     * @return the pages, lowest first
     */
    public List<Long> dtvPages() {
        long first = dtv - CStructs.DTV_ENTRY_SIZE;
        long end = dtv + CStructs.DTV_ENTRY_SIZE * (dtvLength + 1);
        return range(page(first), page(end - 1));
    }

    /**
     * The page of the DTV pointer, the one the seed retags.
     *
     * @return the page that holds {@code dtv}
     */
    public long dtvPage() {
        return page(dtv);
    }

    /**
     * Whether the DTV lies outside the exact page range, so the seed retags it separately.
     *
     * @return true when some DTV page is not in {@link #pages()}
     */
    public boolean dtvPageApart() {
        return !pages().containsAll(dtvPages());
    }

    /**
     * Everything the seed's rule retags, in the order to retag it: the exact range lowest first, then the
     * DTV's pages that lie outside it. This is the list a retag walks page by page.
     *
     * @return page addresses, no duplicates
     */
    public List<Long> pagesToRetag() {
        List<Long> out = new ArrayList<>(pages());
        for (long p : dtvPages()) {
            if (!out.contains(p)) {
                out.add(p);
            }
        }
        return List.copyOf(out);
    }

    /**
     * Where glibc keeps this thread's struct rseq (tp + __rseq_offset), while glibc registers threads
     * ({@code __rseq_size > 0}). On glibc 2.36 it is inside struct pthread, on the TCB page; from 2.41 it
     * lies in the static TLS block. Either way the seed's retag covers it, and the kernel writes it with the
     * thread's rights on every return to user space after a preemption: denying write access to its key kills
     * the process at the next one, so {@code ProtectionKey.setRights} refuses that by name.
     *
     * @return the area's address, or null when glibc registered no rseq area
     */
    public Long rseqArea() {
        if (dev.pkrseq.sys.LoaderCalls.intSymbol("__rseq_size").orElse(0) <= 0) {
            return null;
        }
        return threadPointer() + dev.pkrseq.sys.LoaderCalls.longSymbol("__rseq_offset").orElse(0);
    }

    /**
     * Whether the pages a retag tags ({@link #pagesToRetag()}) hold glibc's rseq area.
     *
     * @return false when there is no glibc rseq area
     */
    public boolean retagCoversRseqArea() {
        Long a = rseqArea();
        return a != null && pagesToRetag().contains(a & -pageSize());
    }

    /**
     * Every loaded module with a PT_TLS segment, in the loader's order.
     *
     * @return the modules
     */
    public List<TlsModule> modules() {
        return modules;
    }

    /**
     * A module by file name.
     *
     * @param name for example {@code libc.so.6}
     * @return the module, or empty when no module of that name has TLS
     */
    public Optional<TlsModule> module(String name) {
        return modules.stream().filter(m -> m.module().equals(name)).findFirst();
    }

    /**
     * Where the TCB sits and what is next to it.
     *
     * @return the placement
     */
    public Placement placement() {
        return placement;
    }

    /**
     * {@code __errno_location()} for the thread, when pkrseq computed the map on it.
     *
     * @return the address of the thread's errno, or null for a thread pkrseq only looked at
     */
    public Long errnoLocation() {
        return errnoLocation;
    }

    /**
     * The smaps snapshot taken with this map.
     *
     * @return every mapping at that moment
     */
    public List<Mapping> snapshot() {
        return snapshot;
    }

    /**
     * What a rule covers: its pages with mapping, key and contents, whether it reaches the DTV, and the
     * modules it leaves out. For {@link PageRule#EXACT} the pages are {@link #pagesToRetag()}.
     *
     * @param rule the rule
     * @return the coverage
     */
    public RuleCoverage rule(PageRule rule) {
        List<Long> pages = rule == PageRule.EXACT ? pagesToRetag() : fixedWindowPages();
        TreeSet<Long> sorted = new TreeSet<>(pages);
        List<TlsPage> described = sorted.stream().map(this::describePage).toList();
        boolean dtvCovered = sorted.containsAll(dtvPages());
        List<TlsModule> leftOut = modules.stream().filter(m -> !covered(m, sorted)).toList();
        return new RuleCoverage(rule, described, dtvCovered, leftOut);
    }

    private boolean covered(TlsModule m, TreeSet<Long> pages) {
        if (!m.allocated()) {
            return false;
        }
        for (long p = page(m.block()); Long.compareUnsigned(p, m.end()) < 0; p += pageSize) {
            if (!pages.contains(p)) {
                return false;
            }
        }
        return true;
    }

    /**
     * One page with its mapping, key and contents.
     *
     * @param address a page address
     * @return the description
     */
    public TlsPage describePage(long address) {
        long end = address + pageSize;
        Mapping mapping = Smaps.containing(snapshot, address).orElse(null);
        List<String> holds = new ArrayList<>();
        if (overlaps(address, end, threadPointer, high())) {
            holds.add("TCB");
        }
        if (overlaps(address, end, low(), threadPointer)) {
            List<String> names = modules.stream()
                    .filter(m -> m.allocated() && overlaps(address, end, m.block(), m.end()) && m.inStaticTls())
                    .map(TlsModule::module).toList();
            holds.add(names.isEmpty() ? "static TLS (surplus)" : "static TLS (" + String.join(", ", names) + ")");
        }
        for (TlsModule m : modules) {
            if (m.allocated() && !m.inStaticTls() && overlaps(address, end, m.block(), m.end())) {
                holds.add(m.module() + " TLS (" + m.dtv() + ")");
            }
        }
        if (dtvLength > 0 && overlaps(address, end, dtv - CStructs.DTV_ENTRY_SIZE, dtv + CStructs.DTV_ENTRY_SIZE * (dtvLength + 1))) {
            holds.add("DTV");
        }
        if (placement.kind() == Placement.Kind.STACK_TOP
                && overlaps(address, end, placement.mapping().start(), low())) {
            holds.add("thread stack");
        }
        if (holds.isEmpty()) {
            holds.add(mapping == null ? "unmapped" : "other data");
        }
        return new TlsPage(address, (tcbPage() - address) / pageSize, mapping, List.copyOf(holds));
    }

    private static boolean overlaps(long a, long aEnd, long b, long bEnd) {
        return Long.compareUnsigned(a, bEnd) < 0 && Long.compareUnsigned(b, aEnd) < 0;
    }

    private long page(long address) {
        return address & ~(pageSize - 1);
    }

    private List<Long> range(long first, long last) {
        List<Long> out = new ArrayList<>();
        for (long p = first; Long.compareUnsigned(p, last) <= 0; p += pageSize) {
            out.add(p);
        }
        return List.copyOf(out);
    }
}
