package dev.pkrseq.tls;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;

import dev.pkrseq.pkey.Hazard;
import dev.pkrseq.pkey.PageWalk;
import dev.pkrseq.pkey.ProtectionKey;
import dev.pkrseq.pkey.Rights;
import dev.pkrseq.proc.Smaps;
import dev.pkrseq.proc.Vma;
import dev.pkrseq.sys.Sys;

/**
 * The calling thread's static TLS retagged with a protection key by the seed's rule, until
 * {@link #restore()}: made by {@link Tls#retag(ProtectionKey, Hazard, Option...)}.
 *
 * <p><b>What it does.</b> It tags, one {@code pkey_mprotect} per page, exactly
 * {@link TlsLayout#pages()} (from {@code low} rounded down to a page up to the TCB page) and then, when
 * it lies outside them, the DTV's page ({@link TlsLayout#dtvPages()}) as the options say. A DTV page apart
 * from the range is never the thread's alone (glibc allocates the DTV with malloc, among other threads'
 * chunks), so the retag refuses it ({@link SharedDtvPageException}) unless the caller chooses:
 * {@link Option#WITHOUT_DTV_PAGE} leaves it out, {@link Option#WITH_SHARED_DTV_PAGE} tags it anyway.
 * Every retag takes {@link Hazard#MAY_KILL_THIS_JVM}. Each page keeps its protection
 * (read from smaps). An unmapped page fails alone with ENOMEM and the walk goes on. {@link #restore()}
 * puts key 0 back on exactly the pages that were tagged. The pages are recorded where pkrseq's guards
 * look, so that {@link ProtectionKey#setRights} refuses to deny the key on this thread while they carry
 * it ({@link dev.pkrseq.pkey.ThreadMemoryTaggedException}): the thread would die on its next TLS access.
 * The calling thread must hold, and keeps, read-write rights for the key.
 *
 * <p><b>The hazard: this can kill the JVM.</b> While this thread's TCB page carries the key, the JVM
 * survives only as long as nothing touches these pages without read-write rights for the key. Observed
 * in a PKU guest (Linux 6.1, JDK 25; see {@code pkrseq probe}, experiments {@code tls.signal-while-tagged}
 * and {@code tls.fault-while-tagged}), each of these kills the process by SIGSEGV, with no crash log:
 * <ul>
 *   <li><b>Any signal delivered to the thread.</b> A handler runs with the initial PKRU, which denies
 *       keys 1 to 15. The kernel's own rseq update (glibc's rseq area is inside the TCB) then fails and
 *       the kernel kills the process before the handler runs; without rseq, HotSpot's handler faults on
 *       its first TLS access (the stack canary at fs:0x28, errno).</li>
 *   <li><b>Synchronous signals, which cannot be blocked</b>: an implicit null check (a
 *       NullPointerException raised on a null field or array access, in the interpreter too), a safepoint
 *       or handshake poll in compiled Java code, a stack bang, a SIGBUS on a truncated mapped file.</li>
 *   <li><b>A garbage collection</b> (or any stack walk of this thread by another, such as a profiler's): the
 *       collector scans this thread's outermost frames, which share the static TLS's lowest page (observed
 *       in the PKU guest: a serial GC thread died in {@code frame::oops_interpreted_do}). Allocate as little
 *       as possible in the window, and collect before it.</li>
 *   <li><b>Another thread</b> touching the TCB page (glibc's pthread_kill and pthread_getcpuclockid read
 *       this thread's struct pthread, for example for {@code ThreadMXBean.getThreadCpuTime}), or
 *       touching the DTV page, which for a thread glibc created lies on the malloc heap among other
 *       threads' chunks. Threads that existed before the key was allocated have no access to it.</li>
 * </ul>
 * Asynchronous signals are the one hazard this class can hold off: unless
 * {@link Option#SIGNALS_UNBLOCKED} is given, retag blocks every signal except the synchronous fault
 * signals (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS) on the calling thread with
 * {@code pthread_sigmask}, and restore puts the thread's mask back, after which a signal that arrived
 * meanwhile is delivered (glibc keeps its internal signals 32 and 33 deliverable). The rest cannot be
 * prevented from Java. So: keep the window short, run no Java code that may throw an implicit
 * NullPointerException or run long compiled loops in it, and run it in a JVM you can afford to lose, as
 * {@code pkrseq tls --retag-demo} and {@code pkrseq probe} do (they retag in a child JVM). The shared DTV
 * page is tagged only with {@link Option#WITH_SHARED_DTV_PAGE}.
 *
 * <p>Costs: one pkey_mprotect per page each way (2 in range in a JVM thread, and the DTV page when asked
 * for), two pthread_sigmask calls, and, through {@link Tls#retag(ProtectionKey, Hazard, Option...)}, one
 * TLS map (a smaps read and a dl_iterate_phdr walk, milliseconds); pass a map to
 * {@link Tls#retag(ProtectionKey, TlsLayout, Hazard, Option...)} to retag repeatedly without recomputing
 * it.
 */
public final class TlsRetag implements AutoCloseable {
    /**
     * The signals a retag blocks, as a mask for {@link Sys#pthreadSigmask} (bit {@code n - 1} for signal
     * {@code n}): every signal except the synchronous fault signals, which a thread must never block (the
     * kernel kills a process whose fault signal is blocked when the fault happens), and SIGKILL and
     * SIGSTOP, which cannot be blocked.
     */
    public static final long ASYNC_SIGNALS = ~(bit(Sys.SIGSEGV) | bit(Sys.SIGBUS) | bit(Sys.SIGILL) | bit(Sys.SIGFPE)
            | bit(Sys.SIGTRAP) | bit(Sys.SIGSYS) | bit(9) | bit(19));

    private static final ThreadLocal<TlsRetag> ACTIVE = new ThreadLocal<>();

    /** How to retag. */
    public enum Option {
        /**
         * Tag the exact range only, not the DTV page apart from it: the safe choice. The DTV page of a thread
         * glibc created lies on the malloc heap and holds other threads' chunks; they fault on it while it
         * carries the key.
         */
        WITHOUT_DTV_PAGE,
        /**
         * Tag the DTV page apart from the range as well, as the seed's rule says, although other threads'
         * malloc chunks share it: any thread without rights for the key that touches them kills the JVM
         * (issue 12's crashed JMH fork). For child JVMs that observe it, such as {@code pkrseq probe}.
         */
        WITH_SHARED_DTV_PAGE,
        /**
         * Leave the thread's signal mask alone. A signal delivered while the pages are tagged then kills
         * the JVM; {@code tls.signal-while-tagged} does this on purpose, in a child JVM.
         */
        SIGNALS_UNBLOCKED
    }

    /** Why a page is in the retag. */
    public enum Role {
        /** In the exact range: from {@code low} rounded down to a page up to the TCB page. */
        RANGE,
        /** The DTV's page, retagged separately because it lies outside the range. */
        DTV;

        @Override
        public String toString() {
            return this == RANGE ? "range" : "dtv";
        }
    }

    /**
     * One page of a retag or a restore.
     *
     * @param role why the page is in the retag
     * @param prot the protection applied with the key: the page's own, from smaps ({@code PROT_*})
     * @param result what pkey_mprotect did: tagged, not mapped (ENOMEM) or failed
     */
    public record Page(Role role, int prot, PageWalk.Page result) {
        /**
         * The page's address.
         *
         * @return the first byte of the page
         */
        public long address() {
            return result.address();
        }

        /**
         * Whether pkey_mprotect succeeded on it.
         *
         * @return true when tagged
         */
        public boolean tagged() {
            return result.status() == PageWalk.Status.TAGGED;
        }
    }

    private final TlsLayout layout;
    private final int key;
    private final Thread owner;
    private final List<Page> pages;
    private final boolean signalsBlocked;
    private final long previousMask;
    private List<Page> restored;

    private TlsRetag(TlsLayout layout, int key, List<Page> pages, boolean signalsBlocked, long previousMask) {
        this.layout = layout;
        this.key = key;
        this.owner = Thread.currentThread();
        this.pages = List.copyOf(pages);
        this.signalsBlocked = signalsBlocked;
        this.previousMask = previousMask;
    }

    static TlsRetag retag(ProtectionKey key, TlsLayout layout, Hazard hazard, Option... options) {
        if (hazard != Hazard.MAY_KILL_THIS_JVM) {
            throw new IllegalArgumentException("retagging a thread's TLS can kill the JVM (a signal, an implicit null"
                    + " check or another thread touching the pages ends it): pass Hazard.MAY_KILL_THIS_JVM, in a JVM you"
                    + " can afford to lose");
        }
        EnumSet<Option> opts = EnumSet.noneOf(Option.class);
        opts.addAll(List.of(options));
        if (opts.contains(Option.WITHOUT_DTV_PAGE) && opts.contains(Option.WITH_SHARED_DTV_PAGE)) {
            throw new IllegalArgumentException("WITHOUT_DTV_PAGE and WITH_SHARED_DTV_PAGE contradict each other: choose one");
        }
        if (key.number() == 0) {
            throw new IllegalArgumentException("retagging TLS with key 0 changes nothing: key 0 is what the pages carry"
                    + " already; allocate a key with ProtectionKey.allocate(Rights.READ_WRITE)");
        }
        // pagesToRetag() is pages() followed by the DTV pages the range does not hold.
        List<Long> addresses = opts.contains(Option.WITHOUT_DTV_PAGE) ? layout.pages() : layout.pagesToRetag();
        int rangePages = layout.pages().size();
        List<Vma> vmas = layout.snapshot();
        if (addresses.size() > rangePages && !opts.contains(Option.WITH_SHARED_DTV_PAGE)) {
            throw sharedDtvPage(layout, key.number(), addresses.get(rangePages), vmas);
        }
        // Throws for a closed key, a virtual thread (its TLS is its carrier's), or no protection keys.
        Rights rights = key.rights();
        if (rights != Rights.READ_WRITE) {
            throw new IllegalStateException("refusing to retag the TLS of thread '" + Thread.currentThread().getName()
                    + "' with key " + key.number() + ": this thread's rights for it are " + rights
                    + ", so the JVM would die on its next TLS access; give the thread read-write rights first");
        }
        if (ACTIVE.get() != null) {
            throw new IllegalStateException("thread '" + Thread.currentThread().getName() + "' already has its TLS retagged"
                    + " with key " + ACTIVE.get().key + "; restore() that first");
        }
        if (layout.thread().tid() != Sys.gettid() || layout.threadPointer() != Sys.threadPointer()) {
            throw new IllegalArgumentException("the TLS map is thread " + layout.thread().label() + "'s, not the calling"
                    + " thread's (tid " + Sys.gettid() + "): a thread can only retag its own TLS");
        }
        int[] prots = new int[addresses.size()];
        for (int i = 0; i < prots.length; i++) {
            prots[i] = Smaps.containing(vmas, addresses.get(i)).map(Vma::prot).orElse(Sys.PROT_READ | Sys.PROT_WRITE);
        }
        boolean block = !opts.contains(Option.SIGNALS_UNBLOCKED);
        long previous = block ? Sys.pthreadSigmask(Sys.SIG_BLOCK, ASYNC_SIGNALS) : 0;
        List<Page> out = new ArrayList<>(prots.length);
        long size = layout.pageSize();
        try {
            for (int i = 0; i < prots.length; i++) {
                PageWalk walk = key.tagPages(Sys.memory(addresses.get(i), size), prots[i], Hazard.MAY_KILL_THIS_JVM);
                out.add(new Page(i < rangePages ? Role.RANGE : Role.DTV, prots[i], walk.pages().get(0)));
            }
        } catch (RuntimeException | Error e) {
            undo(out, size);
            if (block) {
                Sys.pthreadSigmask(Sys.SIG_SETMASK, previous);
            }
            throw e;
        }
        TlsRetag r = new TlsRetag(layout, key.number(), out, block, previous);
        ACTIVE.set(r);
        return r;
    }

    /**
     * The retag active on the calling thread.
     *
     * @return the retag, or empty when this thread's TLS is not retagged by pkrseq
     */
    public static Optional<TlsRetag> active() {
        return Optional.ofNullable(ACTIVE.get());
    }

    /**
     * Puts key 0 back on exactly the pages the retag tagged, one pkey_mprotect per page with the page's
     * protection, then the thread's signal mask; a signal that arrived meanwhile is delivered now.
     * Calling it again returns the first report.
     *
     * @return one entry per page put back, in retag order
     * @throws IllegalStateException on another thread than the one that retagged: the signal mask is per
     *     thread
     */
    public List<Page> restore() {
        if (restored != null) {
            return restored;
        }
        if (Thread.currentThread() != owner) {
            throw new IllegalStateException("the TLS retag of thread '" + owner.getName() + "' must be restored on that"
                    + " thread, not on '" + Thread.currentThread().getName() + "': its signal mask is per thread");
        }
        List<Page> back = new ArrayList<>(pages.size());
        long size = layout.pageSize();
        try {
            for (Page p : pages) {
                if (p.tagged()) {
                    PageWalk walk = ProtectionKey.DEFAULT.tagPages(Sys.memory(p.address(), size), p.prot(),
                            Hazard.MAY_KILL_THIS_JVM);
                    back.add(new Page(p.role(), p.prot(), walk.pages().get(0)));
                }
            }
        } finally {
            ACTIVE.remove();
            if (signalsBlocked) {
                Sys.pthreadSigmask(Sys.SIG_SETMASK, previousMask);
            }
        }
        restored = List.copyOf(back);
        return restored;
    }

    /** Same as {@link #restore()}. */
    @Override
    public void close() {
        restore();
    }

    /**
     * The map the retag used.
     *
     * @return the calling thread's map at retag time
     */
    public TlsLayout layout() {
        return layout;
    }

    /**
     * The key the pages carry.
     *
     * @return 1 to 15
     */
    public int key() {
        return key;
    }

    /**
     * The retag's page walk: the exact range lowest first, then the DTV page when apart.
     *
     * @return one entry per page
     */
    public List<Page> pages() {
        return pages;
    }

    /**
     * The pages that carry the key now (until restore).
     *
     * @return addresses, in walk order
     */
    public List<Long> taggedPages() {
        return pages.stream().filter(Page::tagged).map(Page::address).toList();
    }

    /**
     * Whether every page of the walk was tagged.
     *
     * @return false when a page was unmapped or failed
     */
    public boolean complete() {
        return pages.stream().allMatch(Page::tagged);
    }

    /**
     * Whether the walk included the DTV page apart from the range.
     *
     * @return true when some page has {@link Role#DTV}
     */
    public boolean includesDtvPage() {
        return pages.stream().anyMatch(p -> p.role() == Role.DTV);
    }

    /**
     * Whether the retag blocked the thread's asynchronous signals.
     *
     * @return false with {@link Option#SIGNALS_UNBLOCKED}
     */
    public boolean signalsBlocked() {
        return signalsBlocked;
    }

    /**
     * Whether {@link #restore()} has run.
     *
     * @return true once the pages carry key 0 again
     */
    public boolean restored() {
        return restored != null;
    }

    /**
     * The restore's report.
     *
     * @return one entry per page put back, or empty before {@link #restore()}
     */
    public List<Page> restoredPages() {
        return restored == null ? List.of() : restored;
    }

    private static void undo(List<Page> done, long size) {
        for (Page p : done) {
            if (p.tagged()) {
                ProtectionKey.DEFAULT.tagPages(Sys.memory(p.address(), size), p.prot(), Hazard.MAY_KILL_THIS_JVM);
            }
        }
    }

    private static SharedDtvPageException sharedDtvPage(TlsLayout layout, int key, long page, List<Vma> vmas) {
        String where = Smaps.containing(vmas, page).map(v -> String.format("0x%x-0x%x %s %s%s", v.start(), v.end(),
                v.perms(), v.name(), v.path().equals("[heap]") ? " (the C heap)" : v.path().isEmpty() ? " (a malloc arena"
                        + " or other anonymous memory)" : "")).orElse("no mapping");
        return new SharedDtvPageException(String.format("refusing to retag the DTV page 0x%x of thread '%s' with key %d:"
                + " it lies apart from the thread's TLS, in %s, where glibc's malloc put the DTV among other threads'"
                + " chunks; any thread without rights for the key that touches them would die, and with it the JVM. Pass"
                + " TlsRetag.Option.WITHOUT_DTV_PAGE to leave the page out, or TlsRetag.Option.WITH_SHARED_DTV_PAGE to tag"
                + " it anyway in a JVM you can afford to lose", page, layout.thread().name(), key, where), page);
    }

    private static long bit(int signal) {
        return 1L << (signal - 1);
    }
}
