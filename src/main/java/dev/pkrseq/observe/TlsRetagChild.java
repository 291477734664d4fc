package dev.pkrseq.observe;

import java.io.IOException;
import java.io.StringReader;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

import dev.pkrseq.pkey.Hazard;
import dev.pkrseq.pkey.PageWalk;
import dev.pkrseq.pkey.Pkeys;
import dev.pkrseq.pkey.ProtectionKey;
import dev.pkrseq.pkey.Rights;
import dev.pkrseq.pkey.RightsScope;
import dev.pkrseq.pkey.ThreadMemoryTaggedException;
import dev.pkrseq.proc.Smaps;
import dev.pkrseq.proc.Vma;
import dev.pkrseq.sys.Sys;
import dev.pkrseq.tls.Tls;
import dev.pkrseq.tls.TlsLayout;
import dev.pkrseq.tls.TlsRetag;

/**
 * The child JVM that retags its own main thread's TLS, for {@code pkrseq tls --retag-demo} and the
 * {@code tls.*} retag experiments, so that a JVM that dies of it is never the user's. It takes
 * {@link Hazard#MAY_KILL_THIS_JVM} and, to observe the seed's rule whole, tags the DTV page too
 * ({@link TlsRetag.Option#WITH_SHARED_DTV_PAGE}). That is a risk this JVM may take and a benchmark fork may
 * not: it runs interpreted (no compiler threads), its other threads are the JVM's own and one probe
 * thread, idle while the window is open, and should one of them touch the DTV page's other chunks anyway,
 * the child dies and the parent reports it (see docs/tls.md).
 *
 * <p>Modes (first argument):
 * <ul>
 *   <li>{@code retag}: allocates a key, retags, reads smaps and runs the access probes and the deny guard
 *       while tagged, restores, frees the key, and checks that nothing is left. Prints {@code name=value}
 *       lines that {@link TlsRetagProbe} reads. The window between retag and restore runs only system
 *       calls, a file read and straight-line Java code; the parent starts this child with {@code -Xint},
 *       so no compiled loop can take a safepoint poll's SIGSEGV there.</li>
 *   <li>{@code signal} and {@code signal-blocked}: retags without or with pkrseq's blocking of
 *       asynchronous signals, then sends itself SIGUSR2 (HotSpot's suspend/resume signal) with tgkill.
 *       Prints {@code pending=} (the signal is pending while tagged), {@code pendingAfter=} and
 *       {@code survived=} if it lives.</li>
 *   <li>{@code null-check}: retags (asynchronous signals blocked) and reads the length of a null array:
 *       HotSpot's implicit null check raises SIGSEGV, which cannot be blocked. Prints {@code survived=} if
 *       it lives.</li>
 * </ul>
 */
public final class TlsRetagChild {
    private TlsRetagChild() {
    }

    /**
     * Runs one mode.
     *
     * @param args the mode; {@code retag} when absent
     * @throws Exception when the set-up fails (the parent reports the child's output)
     */
    public static void main(String[] args) throws Exception {
        String mode = args.length == 0 ? "retag" : args[0];
        switch (mode) {
            case "retag" -> retag();
            case "signal" -> signal(false);
            case "signal-blocked" -> signal(true);
            case "null-check" -> nullCheck(args);
            default -> throw new IllegalArgumentException("unknown mode " + mode);
        }
        System.out.flush();
    }

    private static void retag() throws IOException {
        // Started before the key exists, so it has the default rights for it: no access.
        try (ThreadProbe other = ThreadProbe.start("pkrseq-tls-other")) {
            TlsLayout l = Tls.current();
            out("thread", l.thread().name());
            out("tid", l.thread().tid());
            out("tp", hex(l.threadPointer()));
            out("dtv", hex(l.dtv()));
            out("dtvApart", l.dtvPageApart());
            out("otherTid", other.tid());
            long page = l.pageSize();
            long errno = Sys.errnoLocation();
            MemorySegment tcbPage = Sys.memory(l.tcbPage(), page);
            // The map's own smaps snapshot is the "before": nothing changes these pages until the retag.
            List<Vma> before = l.snapshot();
            ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE);
            out("key", key.number());
            System.out.flush();
            byte[] during;
            boolean tcbRead;
            boolean errnoWrite;
            Boolean dtvRead = null;
            Rights otherRights;
            boolean otherTcbRead;
            String deny;
            String scoped;
            Rights rightsAfter;
            quiesce(l, errno);
            TlsRetag r = Tls.retag(key, l, Hazard.MAY_KILL_THIS_JVM, TlsRetag.Option.WITH_SHARED_DTV_PAGE);
            out("signalsBlocked", r.signalsBlocked());
            try {
                during = Files.readAllBytes(Path.of("/proc/self/smaps"));
                tcbRead = AccessProbe.canRead(l.tcbPage(), (int) page);
                errnoWrite = AccessProbe.canWrite(errno, 4);
                if (r.includesDtvPage()) {
                    // Read only: the DTV page holds other threads' malloc chunks, never write it back.
                    dtvRead = AccessProbe.canRead(l.dtv() - 16, 16);
                }
                otherRights = other.rights(key);
                otherTcbRead = other.canRead(tcbPage);
                deny = refusal(() -> key.setRights(Rights.NO_ACCESS));
                scoped = refusal(() -> {
                    try (RightsScope s = key.withRights(Rights.NO_WRITE)) {
                        s.rights();
                    }
                });
                rightsAfter = key.rights();
            } finally {
                r.restore();
            }
            List<Vma> after = Smaps.self();
            List<Vma> whileTagged = Smaps.parse(new StringReader(new String(during, StandardCharsets.US_ASCII)));
            report(l, r, key.number(), whileTagged, before, after);
            out("probe.tcbRead", AccessProbe.efault(tcbRead));
            out("probe.errnoWrite", AccessProbe.efault(errnoWrite));
            out("probe.dtvRead", dtvRead == null ? "-" : AccessProbe.efault(dtvRead));
            out("probe.otherRights", otherRights);
            out("probe.otherTcbRead", AccessProbe.efault(otherTcbRead));
            out("deny", deny.startsWith("refused") ? "refused" : "allowed");
            out("deny.message", deny.startsWith("refused") ? deny.substring("refused: ".length()) : deny);
            out("deny.scoped", scoped.startsWith("refused") ? "refused" : "allowed");
            out("deny.rightsAfter", rightsAfter);
            dtvOnly(l, key);
            key.close();
            List<Vma> left = Pkeys.taggedMappings();
            out("left", left.isEmpty() ? "none" : left.stream().map(TlsRetagChild::vma).collect(Collectors.joining("; ")));
            out("allocatable", Pkeys.allocatableNow());
        }
        out("done", true);
    }

    /**
     * Makes a garbage collection in the tagged window unlikely: runs the probes once (their classes and the
     * thread's native-call buffers are then loaded), and collects now, so that the window's few allocations
     * (the smaps read) fit in an empty young generation. A collection while the pages carry the key would
     * kill this JVM: the collector scans this thread's outermost frames, which lie on the static TLS's lowest
     * page.
     */
    private static void quiesce(TlsLayout l, long errno) {
        AccessProbe.canRead(l.tcbPage(), 8);
        AccessProbe.canWrite(errno, 4);
        System.gc();
    }

    /** Tags only the DTV page (signals blocked meanwhile) and asks to deny the key: the guard must name the DTV. */
    private static void dtvOnly(TlsLayout l, ProtectionKey key) {
        if (!l.dtvPageApart()) {
            out("dtvOnly.deny", "skipped");
            out("dtvOnly.message", "the DTV lies inside the exact range");
            return;
        }
        long page = l.dtvPage();
        int prot = Smaps.containing(l.snapshot(), page).map(Vma::prot).orElse(Sys.PROT_READ | Sys.PROT_WRITE);
        long mask = Sys.pthreadSigmask(Sys.SIG_BLOCK, TlsRetag.ASYNC_SIGNALS);
        String deny;
        PageWalk walk = null;
        try {
            walk = key.tagPages(Sys.memory(page, l.pageSize()), prot, Hazard.MAY_KILL_THIS_JVM);
            deny = refusal(() -> key.setRights(Rights.NO_ACCESS));
        } finally {
            if (walk != null) {
                ProtectionKey.DEFAULT.tagPages(Sys.memory(page, l.pageSize()), prot, Hazard.MAY_KILL_THIS_JVM);
            }
            Sys.pthreadSigmask(Sys.SIG_SETMASK, mask);
        }
        out("dtvOnly.deny", deny.startsWith("refused") ? "refused" : "allowed");
        out("dtvOnly.message", deny.startsWith("refused") ? deny.substring("refused: ".length()) : deny);
    }

    private static void report(TlsLayout l, TlsRetag r, int key, List<Vma> during, List<Vma> before, List<Vma> after) {
        long size = l.pageSize();
        Set<Long> tagged = new HashSet<>(r.taggedPages());
        for (int i = 0; i < r.pages().size(); i++) {
            TlsRetag.Page p = r.pages().get(i);
            Optional<Vma> d = Smaps.containing(during, p.address());
            Optional<Vma> a = Smaps.containing(after, p.address());
            String restore = r.restoredPages().stream().filter(x -> x.address() == p.address())
                    .map(x -> status(x.result())).findFirst().orElse("-");
            out("page", String.join("|", hex(p.address()), p.role().toString(), perms(p.prot()), status(p.result()),
                    d.map(v -> Integer.toString(v.key())).orElse("-"), restore, a.map(v -> Integer.toString(v.key())).orElse("-"),
                    d.map(TlsRetagChild::vma).orElse("unmapped"), a.map(TlsRetagChild::vma).orElse("unmapped"),
                    String.join(", ", l.describePage(p.address()).holds())));
        }
        for (Vma v : during) {
            if (v.key() == key) {
                for (long p = v.start(); p < v.end(); p += size) {
                    if (!tagged.contains(p)) {
                        out("stray", vma(v));
                        break;
                    }
                }
            }
        }
        for (Vma v : after) {
            if (v.key() == key) {
                out("afterStray", vma(v));
            }
        }
        List<String> differences = new ArrayList<>();
        for (TlsRetag.Page p : r.pages()) {
            Optional<Vma> b = Smaps.containing(before, p.address());
            Optional<Vma> a = Smaps.containing(after, p.address());
            if (b.isEmpty() != a.isEmpty() || b.isPresent() && !same(b.get(), a.get())) {
                differences.add(hex(p.address()) + ": before " + b.map(TlsRetagChild::vma).orElse("unmapped") + ", after "
                        + a.map(TlsRetagChild::vma).orElse("unmapped"));
            }
        }
        out("unchanged", differences.isEmpty());
        out("unchangedDetail", differences.isEmpty() ? "-" : String.join("; ", differences));
    }

    /** The same mapping: bounds, protection, key, file; the heap's end may move with brk meanwhile. */
    private static boolean same(Vma b, Vma a) {
        return b.start() == a.start() && (b.end() == a.end() || b.path().equals("[heap]")) && b.perms().equals(a.perms())
                && b.key() == a.key() && b.path().equals(a.path());
    }

    private static void signal(boolean blocked) throws IOException {
        ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE);
        TlsRetag r = blocked ? Tls.retag(key, Hazard.MAY_KILL_THIS_JVM, TlsRetag.Option.WITH_SHARED_DTV_PAGE)
                : Tls.retag(key, Hazard.MAY_KILL_THIS_JVM, TlsRetag.Option.WITH_SHARED_DTV_PAGE, TlsRetag.Option.SIGNALS_UNBLOCKED);
        out("tagged", r.taggedPages().stream().map(TlsRetagChild::hex).collect(Collectors.joining(",")));
        out("signalsBlocked", r.signalsBlocked());
        System.out.flush();
        Sys.tgkill(Sys.getpid(), Sys.gettid(), Sys.SIGUSR2);
        boolean pending = pending(Sys.SIGUSR2);
        r.restore();
        boolean pendingAfter = pending(Sys.SIGUSR2);
        key.close();
        out("pending", pending);
        out("pendingAfter", pendingAfter);
        out("survived", true);
    }

    private static void nullCheck(String[] args) {
        int[] none = args.length > 99 ? new int[1] : null;
        ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE);
        TlsRetag r = Tls.retag(key, Hazard.MAY_KILL_THIS_JVM, TlsRetag.Option.WITH_SHARED_DTV_PAGE);
        out("tagged", r.taggedPages().stream().map(TlsRetagChild::hex).collect(Collectors.joining(",")));
        out("signalsBlocked", r.signalsBlocked());
        System.out.flush();
        String seen;
        try {
            seen = "length " + none.length;
        } catch (NullPointerException e) {
            seen = "NullPointerException caught";
        }
        r.restore();
        key.close();
        out("survived", seen);
    }

    /** Whether a signal is pending for this thread, from /proc/thread-self/status (SigPnd). */
    private static boolean pending(int signal) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/thread-self/status"))) {
            if (line.startsWith("SigPnd:")) {
                return (Long.parseUnsignedLong(line.substring(7).strip(), 16) & (1L << (signal - 1))) != 0;
            }
        }
        return false;
    }

    private static String refusal(Runnable call) {
        try {
            call.run();
            return "allowed";
        } catch (ThreadMemoryTaggedException e) {
            return "refused: " + e.getMessage();
        }
    }

    private static String status(PageWalk.Page p) {
        return p.status().name().toLowerCase(Locale.ROOT).replace('_', '-') + (p.errno() == null ? "" : " (" + p.errno() + ")");
    }

    static String perms(int prot) {
        return ((prot & Sys.PROT_READ) != 0 ? "r" : "-") + ((prot & Sys.PROT_WRITE) != 0 ? "w" : "-")
                + ((prot & Sys.PROT_EXEC) != 0 ? "x" : "-");
    }

    static String vma(Vma v) {
        return String.format("%x-%x %s key %d %s", v.start(), v.end(), v.perms(), v.key(),
                v.path().isEmpty() ? "[anon]" : v.path());
    }

    static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }

    private static void out(String name, Object value) {
        System.out.println(name + "=" + String.valueOf(value).replace('\n', ' '));
    }
}
