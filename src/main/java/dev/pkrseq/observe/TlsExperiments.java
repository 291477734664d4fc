package dev.pkrseq.observe;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;

import dev.pkrseq.pkey.Pkeys;
import dev.pkrseq.sys.Sys;
import dev.pkrseq.sys.Syscall;
import dev.pkrseq.tls.Tls;
import dev.pkrseq.tls.TlsLayout;
import dev.pkrseq.tls.TlsModule;

/**
 * The experiments about a thread's static TLS map, in report order.
 *
 * <p>The retag experiments never retag this JVM: a JVM whose TCB page carries a protection key dies of a
 * signal, an implicit null check or another thread's touch (see {@link dev.pkrseq.tls.TlsRetag}). They run
 * {@link TlsRetagProbe} in child JVMs: {@code tls.retag-exact}, {@code tls.access-while-tagged} and
 * {@code tls.deny-refused} share one child per {@link #all()} list; {@code tls.signal-while-tagged} takes
 * two and {@code tls.fault-while-tagged} one, each of which is expected to die or to show why it did not.
 */
public final class TlsExperiments {
    private TlsExperiments() {
    }

    /**
     * The TLS experiments.
     *
     * @return a new list, in report order
     */
    public static List<Experiment> all() {
        RetagRun run = new RetagRun();
        return new ArrayList<>(List.of(new ModulesInsideBounds(), new RetagExact(run), new AccessWhileTagged(run),
                new DenyRefused(run), new SignalWhileTagged(), new FaultWhileTagged()));
    }

    /**
     * The experiments {@code pkrseq tls} runs on its own: those that need no child JVM.
     *
     * @return a new list, in report order
     */
    public static List<Experiment> layout() {
        return new ArrayList<>(List.of(new ModulesInsideBounds()));
    }

    /**
     * {@link #layout()} judged on a map the caller computed already, so that a report that shows the map
     * does not compute it again.
     *
     * @param self {@code Tls.current()}, computed on the thread that runs the experiments, just before
     * @return a new list, in report order
     */
    public static List<Experiment> layout(TlsLayout self) {
        return new ArrayList<>(List.of(new ModulesInsideBounds(Objects.requireNonNull(self, "self"))));
    }

    /**
     * The experiments that read one retag, for {@code pkrseq tls --retag-demo}: the layout experiment
     * and the three retag experiments, judged on a report already taken.
     *
     * @param report the child's report
     * @return a new list, in report order
     */
    public static List<Experiment> readingRetag(TlsRetagProbe.Report report) {
        RetagRun run = new RetagRun(report);
        return new ArrayList<>(List.of(new ModulesInsideBounds(), new RetagExact(run), new AccessWhileTagged(run),
                new DenyRefused(run)));
    }

    /**
     * Why a TLS retag cannot run here: not x86_64, not glibc, or no protection keys.
     *
     * @return the reason in words, or null when it can run
     */
    public static String retagUnavailable() {
        if (!Syscall.architectureSupported()) {
            return Syscall.architecture() + " is not supported";
        }
        if (Sys.tlsStaticInfo().isEmpty()) {
            return "the C library does not export _dl_get_tls_static_info (not glibc)";
        }
        if (!Pkeys.supported()) {
            return "protection keys are not available: " + Pkeys.unavailableReason().orElse("unknown reason");
        }
        return null;
    }

    /** One child JVM retag for the three experiments that read it, made on first use. */
    static final class RetagRun {
        private TlsRetagProbe.Report report;
        private RuntimeException failure;

        RetagRun() {
        }

        RetagRun(TlsRetagProbe.Report report) {
            this.report = report;
        }

        synchronized TlsRetagProbe.Report report() {
            if (report == null && failure == null) {
                try {
                    report = TlsRetagProbe.retag(PkeyExperiments.CHILD_TIMEOUT);
                } catch (RuntimeException e) {
                    failure = e;
                }
            }
            if (failure != null) {
                throw failure;
            }
            return report;
        }
    }

    /** Skips in words where the retag cannot run. */
    private abstract static class RetagExperiment extends DescribedExperiment {
        RetagExperiment(String id, String title, String expected) {
            super(id, title, expected);
        }

        @Override
        public ExperimentResult run() {
            String missing = retagUnavailable();
            return missing != null ? ExperimentResult.skipped(this, missing) : observe();
        }

        abstract ExperimentResult observe();
    }

    /** A retag experiment that judges the shared child's report; the child runs on the first one's turn. */
    private abstract static class ReadingRetag extends RetagExperiment {
        private final RetagRun run;

        ReadingRetag(RetagRun run, String id, String title, String expected) {
            super(id, title, expected);
            this.run = run;
        }

        @Override
        final ExperimentResult observe() {
            return judge(run.report());
        }

        abstract ExperimentResult judge(TlsRetagProbe.Report r);
    }

    /** {@code tls.retag-exact}: smaps shows the key on exactly the computed pages, then on none. */
    static final class RetagExact extends ReadingRetag {
        RetagExact(RetagRun run) {
            super(run, "tls.retag-exact",
                    "retag the main thread's static TLS page by page, in a child JVM, then restore",
                    "while tagged, smaps shows the key on exactly the computed pages (and on the DTV page when apart)"
                            + " and on nothing else; after restore, on none, and the mappings are as before");
        }

        @Override
        ExperimentResult judge(TlsRetagProbe.Report r) {
            long range = r.pages().size() - r.dtvPages().size();
            boolean ok = r.exact() && r.smapsUnchanged() && r.dtvPageApart() == !r.dtvPages().isEmpty();
            String observed = "key " + r.key() + " on " + r.pages().stream().filter(p -> Integer.valueOf(r.key())
                    .equals(p.keyWhileTagged())).count() + " of " + r.pages().size() + " pages (" + range + " in range"
                    + (r.dtvPages().isEmpty() ? "" : " + the DTV page") + "), "
                    + (r.strayWhileTagged().isEmpty() ? "nowhere else" : "also on " + r.strayWhileTagged())
                    + "; after restore: " + (r.strayAfter().isEmpty() && r.pages().stream().allMatch(p -> Integer.valueOf(0)
                            .equals(p.keyAfter())) ? "key 0 on all, the key on none" : "still " + r.strayAfter())
                    + (r.smapsUnchanged() ? ", mappings as before" : ", mappings changed: " + r.smapsDifference());
            String detail = "thread " + r.thread() + " (tid " + r.tid() + "), tp " + TlsRetagChild.hex(r.threadPointer())
                    + "; " + r.pages().stream().map(p -> TlsRetagChild.hex(p.address()) + " " + p.role() + " " + p.walk() + ", key "
                            + p.keyWhileTagged() + " -> " + p.keyAfter() + " (" + p.holds() + ")")
                            .collect(Collectors.joining("; "))
                    + "; child ran " + r.elapsed().toMillis() + " ms";
            return ExperimentResult.of(this, ok, observed, detail);
        }
    }

    /** {@code tls.access-while-tagged}: the kernel's access probe on a tagged TLS page still succeeds. */
    static final class AccessWhileTagged extends ReadingRetag {
        AccessWhileTagged(RetagRun run) {
            super(run, "tls.access-while-tagged", "kernel access probe on the tagged TLS pages, in the child JVM",
                    "on the retagged thread, which keeps read-write rights, the kernel reads the TCB page and writes"
                            + " errno (libc's static TLS): both succeed; a thread that existed before the key gets EFAULT");
        }

        @Override
        ExperimentResult judge(TlsRetagProbe.Report r) {
            boolean ok = r.tcbRead().equals("ok") && r.errnoWrite().equals("ok") && !r.dtvRead().equals("EFAULT")
                    && r.otherTcbRead().equals("EFAULT") && r.otherRights().equals("no-access");
            String observed = "retagged thread: TCB page read " + r.tcbRead() + ", errno write " + r.errnoWrite()
                    + (r.dtvRead().equals("-") ? "" : ", DTV read " + r.dtvRead()) + "; thread started before the key ("
                    + r.otherRights() + "): TCB page read " + r.otherTcbRead();
            return ExperimentResult.of(this, ok, observed, "key " + r.key() + "; probes: write(pipe) and futex(FUTEX_WAKE_OP, add 0) on the"
                    + " pages (AccessProbe); other thread tid " + r.otherTid());
        }
    }

    /** {@code tls.deny-refused}: denying the key while it tags this thread's TLS is refused. */
    static final class DenyRefused extends ReadingRetag {
        DenyRefused(RetagRun run) {
            super(run, "tls.deny-refused", "deny rights to the key while it tags the thread's TLS, in the child JVM",
                    "setRights(NO_ACCESS) and withRights(NO_WRITE) are refused with ThreadMemoryTaggedException (the JVM"
                            + " would die on its next TLS access), the rights stay read-write and the JVM carries on;"
                            + " also when only the DTV page carries the key");
        }

        @Override
        ExperimentResult judge(TlsRetagProbe.Report r) {
            boolean dtvOk = r.dtvOnlyDeny().equals("refused") || r.dtvOnlyDeny().equals("skipped") && !r.dtvPageApart();
            boolean ok = r.denyRefused() && r.scopedDenyRefused() && r.rightsAfterDeny().equals("read-write")
                    && r.denyMessage().contains("would die on its next TLS access") && dtvOk && r.left().equals("none");
            String observed = "setRights(no-access) " + (r.denyRefused() ? "refused" : "ALLOWED") + ", withRights(no-write) "
                    + (r.scopedDenyRefused() ? "refused" : "ALLOWED") + ", rights after: " + r.rightsAfterDeny()
                    + "; DTV page alone: " + r.dtvOnlyDeny() + "; the child carried on, restored and freed the key";
            return ExperimentResult.of(this, ok, observed, "message: " + r.denyMessage()
                    + (r.dtvOnlyDeny().equals("refused") ? "; DTV page alone: " + r.dtvOnlyMessage() : ""));
        }
    }

    /** {@code tls.signal-while-tagged}: a signal delivered while the TCB page carries a key kills the JVM. */
    static final class SignalWhileTagged extends RetagExperiment {
        SignalWhileTagged() {
            super("tls.signal-while-tagged", "tgkill(SIGUSR2) to a child JVM's main thread while its TLS carries a key,"
                    + " without and with pkrseq's signal blocking",
                    "without blocking the child dies by SIGSEGV: the handler runs with the initial PKRU, which denies the"
                            + " key (keys 1-15 access-disabled); with retag's blocking SIGUSR2 stays pending until"
                            + " restore() and the child lives");
        }

        @Override
        ExperimentResult observe() {
            TlsRetagProbe.Ending bare = TlsRetagProbe.signal("signal", PkeyExperiments.CHILD_TIMEOUT);
            TlsRetagProbe.Ending blocked = TlsRetagProbe.signal("signal-blocked", PkeyExperiments.CHILD_TIMEOUT);
            boolean ok = bare.killedBySigsegv() && blocked.survived() != null && Boolean.TRUE.equals(blocked.pendingWhileTagged())
                    && Boolean.FALSE.equals(blocked.pendingAfter());
            return ExperimentResult.of(this, ok, "without blocking: " + bare.describe() + "; with blocking: "
                    + blocked.describe(), "tagged " + bare.tagged() + " before the signal; children ran "
                    + bare.elapsed().toMillis() + " and " + blocked.elapsed().toMillis() + " ms. " + WHY);
        }
    }

    /** {@code tls.fault-while-tagged}: a synchronous SIGSEGV (implicit null check) kills it despite the blocking. */
    static final class FaultWhileTagged extends RetagExperiment {
        FaultWhileTagged() {
            super("tls.fault-while-tagged", "a null array's length in a child JVM while its TLS carries a key and its"
                    + " asynchronous signals are blocked",
                    "HotSpot's implicit null check raises SIGSEGV, which cannot be blocked: the child dies by SIGSEGV"
                            + " instead of throwing NullPointerException");
        }

        @Override
        ExperimentResult observe() {
            TlsRetagProbe.Ending e = TlsRetagProbe.signal("null-check", PkeyExperiments.CHILD_TIMEOUT);
            return ExperimentResult.of(this, e.killedBySigsegv() && e.signalsBlocked(), e.describe(),
                    "tagged " + e.tagged() + " before the null access; child ran " + e.elapsed().toMillis() + " ms. " + WHY);
        }
    }

    /** What a PKU guest showed under strace; the child itself dies before it can say. */
    static final String WHY = "Seen with strace in a PKU guest (Linux 6.1): the kernel sets the handler's PKRU to the"
            + " initial value, then its own rseq update of glibc's area inside the TCB fails, and it kills the process"
            + " (SIGSEGV si_code SI_KERNEL) before the handler runs; without rseq the handler itself faults"
            + " (SEGV_PKUERR at fs:0x28, the stack canary)";

    /**
     * {@code tls.modules-inside-bounds}: the loader's own marking of each block (its DTV entry) agrees
     * with the computed bounds. A block the DTV marks static (no separate allocation) must lie inside
     * {@code [low, high)}; a block the loader allocated on the heap must not.
     */
    static final class ModulesInsideBounds extends DescribedExperiment {
        /** The map to judge, or null to compute the calling thread's when run. */
        private final TlsLayout layout;

        ModulesInsideBounds() {
            this(null);
        }

        ModulesInsideBounds(TlsLayout layout) {
            super("tls.modules-inside-bounds", "Every static TLS block lies inside the computed static TLS bounds",
                    "blocks the DTV marks static lie in [tp + TLS_TCB_SIZE - dl_tls_static_size, tp + TLS_TCB_SIZE); "
                            + "dynamic ones lie elsewhere");
            this.layout = layout;
        }

        @Override
        public ExperimentResult run() {
            if (!Syscall.architectureSupported()) {
                return ExperimentResult.skipped(this, Syscall.architecture() + " is not supported");
            }
            if (Sys.tlsStaticInfo().isEmpty()) {
                return ExperimentResult.skipped(this, "the C library does not export _dl_get_tls_static_info (not glibc)");
            }
            TlsLayout l = layout != null ? layout : Tls.current();
            List<TlsModule> allocated = l.modules().stream().filter(TlsModule::allocated).toList();
            List<TlsModule> marked = allocated.stream().filter(m -> m.dtv() == TlsModule.DtvState.STATIC).toList();
            List<TlsModule> dynamic = allocated.stream().filter(m -> m.dtv() == TlsModule.DtvState.DYNAMIC).toList();
            List<TlsModule> unmarked = allocated.stream()
                    .filter(m -> m.dtv() != TlsModule.DtvState.STATIC && m.dtv() != TlsModule.DtvState.DYNAMIC).toList();
            List<TlsModule> staticOutside = marked.stream().filter(m -> !m.inStaticTls()).toList();
            List<TlsModule> dynamicInside = dynamic.stream().filter(TlsModule::inStaticTls).toList();
            List<TlsModule> pending = l.modules().stream().filter(m -> !m.allocated()).toList();
            boolean ok = !marked.isEmpty() && staticOutside.isEmpty() && dynamicInside.isEmpty() && unmarked.isEmpty();
            String bounds = String.format("[0x%x, 0x%x)", l.low(), l.high());
            StringBuilder observed = new StringBuilder();
            observed.append(marked.size()).append(" static block(s) ").append(names(marked))
                    .append(staticOutside.isEmpty() ? " inside " : ", of which " + names(staticOutside) + " outside ")
                    .append(bounds).append("; ").append(dynamic.size()).append(" dynamic ").append(names(dynamic))
                    .append(dynamicInside.isEmpty() ? " elsewhere" : ", of which " + names(dynamicInside) + " inside");
            if (!pending.isEmpty()) {
                observed.append("; ").append(pending.size()).append(" not allocated ").append(names(pending));
            }
            if (marked.isEmpty()) {
                observed.append("; no block is marked static (DTV unreadable?)");
            }
            List<String> detail = new ArrayList<>();
            detail.add("thread " + l.thread().label() + ", tp 0x" + Long.toHexString(l.threadPointer()) + ", bounds " + bounds);
            for (TlsModule m : l.modules()) {
                if (!m.inStaticTls() || m.dtv() != TlsModule.DtvState.STATIC) {
                    detail.add(m.module() + " (dtv " + m.dtv() + "): " + (m.allocated() ? String.format("0x%x, ", m.block()) : "")
                            + m.where());
                }
            }
            for (TlsModule m : unmarked) {
                detail.add(m.module() + ": allocated but the DTV entry says " + m.dtv());
            }
            return ExperimentResult.of(this, ok, observed.toString(), String.join("; ", detail));
        }

        private static String names(List<TlsModule> modules) {
            return modules.stream().map(TlsModule::module).collect(Collectors.joining(", ", "(", ")"));
        }
    }
}
