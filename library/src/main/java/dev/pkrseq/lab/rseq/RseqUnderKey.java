package dev.pkrseq.lab.rseq;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import dev.pkrseq.lab.ChildJvm;
import dev.pkrseq.lab.ChildReport;
import dev.pkrseq.lab.tls.TlsRetagProbe;
import dev.pkrseq.lab.CrashLog;
import dev.pkrseq.lab.DescribedExperiment;
import dev.pkrseq.lab.Experiment;
import dev.pkrseq.lab.ExperimentResult;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.BitSet;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import dev.pkrseq.pkey.Pages;
import dev.pkrseq.pkey.Pkeys;
import dev.pkrseq.proc.Smaps;
import dev.pkrseq.Mapping;
import dev.pkrseq.rseq.Rseq;
import dev.pkrseq.rseq.RseqAbi;
import dev.pkrseq.rseq.RseqArea;
import dev.pkrseq.sys.LoaderCalls;
import dev.pkrseq.sys.MemoryCalls;
import dev.pkrseq.sys.PkeyCalls;
import dev.pkrseq.sys.ThreadCalls;
import dev.pkrseq.sys.Syscall;

/**
 * rseq under a protection key, in child JVMs: the kernel writes struct rseq (cpu_id_start, cpu_id,
 * node_id, mm_cid) with the thread's own rights on its way back to user space after a preemption, a
 * migration or a signal, and kills the process when that write fails.
 * <ul>
 *   <li>{@code rseq.glibc-area-under-key}: the page that holds glibc's rseq area for the thread (its TCB
 *       page, at tp + __rseq_offset) is tagged with a key, and the thread denies itself write access (raw
 *       pkey_set: the library refuses this by name), then yields pinned to one CPU beside a busy thread. This
 *       JVM traces the child's thread to name the signals it dies of. On glibc 2.36 that page also holds
 *       libc's static TLS, which the thread writes itself.</li>
 *   <li>{@code rseq.own-area-untagged-survives}: in a child where glibc registered nothing
 *       ({@code GLIBC_TUNABLES=glibc.pthread.rseq=0}), the thread uses pkrseq's own registration, whose area
 *       lies in an untagged page of pkrseq's pool, and denies itself write access to a tagged page of its
 *       own: the kernel's writes succeed and the thread lives. (The kernel-path matrix's {@code rseq-area}
 *       row puts the area inside the tagged page: the process dies.)</li>
 *   <li>{@code rseq.retag-deny-refused}: the TLS retag probe's child retags its static TLS and asks to deny
 *       the key: refused, and the refusal names the rseq area.</li>
 * </ul>
 */
public final class RseqUnderKey {
    static final Duration CHILD_TIMEOUT = Duration.ofSeconds(600);
    private static final int YIELDS = 300;
    private static final Pattern CURRENT_THREAD = Pattern.compile("Current thread \\(0x[0-9a-f]+\\):\\s+(.*)");

    private RseqUnderKey() {
    }

    /**
     * The experiments, in report order.
     *
     * @return a new list
     */
    public static List<Experiment> all() {
        return List.of(new GlibcAreaUnderKey(), new OwnAreaUntagged(), new RetagDenyRefused());
    }

    /**
     * How a child ended.
     *
     * @param survived whether it lived through the yields under denial
     * @param observed in words, for example {@code SIGSEGV, si_code 128 (SI_KERNEL)}
     * @param detail steps and facts the child reported
     */
    record ChildOutcome(boolean survived, String observed, String detail) {
    }

    static ChildOutcome runChild(String mode, boolean glibcRseq) {
        Path dir = CrashLog.directory("pkrseq-rseq-key-");
        try {
            ChildJvm child = ChildJvm.of(Child.class).directory(dir).jvmArgs(CrashLog.jvmArgs(dir))
                    .jvmArgs("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1").args(mode).timeout(CHILD_TIMEOUT);
            if (!glibcRseq) {
                child.env("GLIBC_TUNABLES", "glibc.pthread.rseq=0");
            }
            ChildJvm.Result r = child.run();
            CrashLog c = CrashLog.of(r.exitCode(), dir);
            List<String> steps = r.report().all("step");
            StringBuilder detail = new StringBuilder("last step '" + (steps.isEmpty() ? "none" : steps.get(steps.size() - 1))
                    + "'");
            r.report().all("detail").forEach(d -> detail.append("; ").append(d));
            currentThread(dir).ifPresent(t -> detail.append("; crash log's current thread: ").append(t));
            detail.append("; exit ").append(r.exitCode()).append(c.exitSignal() == null ? "" : " (" + c.exitSignal() + ")");
            boolean survived = !r.report().all("survived").isEmpty();
            String observed;
            if (survived) {
                observed = "survived " + YIELDS + " yields under no-write; " + r.report().get("survived");
            } else if (c.signal() != null) {
                observed = c.signal() + ", si_code " + c.siCode() + " (" + c.siCodeName() + "), crash log written";
            } else if (c.exitSignal() != null) {
                observed = "killed by " + c.exitSignal() + ", no crash log";
            } else {
                observed = "exit " + r.exitCode() + ": " + r.stderr().strip().lines().reduce((a, b) -> b).orElse("");
            }
            return new ChildOutcome(survived, observed, detail.toString());
        } finally {
            CrashLog.deleteTree(dir);
        }
    }

    /**
     * Runs the {@code glibc} child with its main thread traced by this thread: every signal the thread stops
     * for is recorded (signal, si_code, si_addr) and handed back to it, so the child runs and dies as it would
     * untraced, but its death is named. The crash log cannot do that: the process is killed before HotSpot
     * writes one.
     */
    static ChildOutcome runTraced(String mode) {
        ChildJvm.Running child = ChildJvm.of(Child.class).jvmArgs("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-XX:-CreateCoredumpOnCrash", "-XX:ErrorFile=/dev/null").args(mode, "traced").start(false);
        java.util.concurrent.ScheduledExecutorService watchdog = java.util.concurrent.Executors
                .newSingleThreadScheduledExecutor(r -> {
                    Thread t = new Thread(r, "pkrseq-rseq-key-watchdog");
                    t.setDaemon(true);
                    return t;
                });
        try (child) {
            Process p = child.process();
            watchdog.schedule(child::close, CHILD_TIMEOUT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
            StringBuilder err = new StringBuilder();
            Thread drain = Thread.ofPlatform().daemon().name("pkrseq-rseq-key-stderr").start(() -> {
                try {
                    err.append(new String(p.getErrorStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8));
                } catch (IOException e) {
                    // The child is gone.
                }
            });
            java.io.BufferedReader out = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream(),
                    java.nio.charset.StandardCharsets.UTF_8));
            StringBuilder detail = new StringBuilder();
            int tid = -1;
            for (String line = out.readLine(); line != null; line = out.readLine()) {
                ChildReport said = ChildReport.parse(line);
                said.first("detail").ifPresent(d -> detail.append(detail.length() == 0 ? "" : "; ").append(d));
                if (said.first("tid").isPresent()) {
                    tid = said.getInt("tid");
                    break;
                }
            }
            if (tid < 0) {
                throw new ChildJvm.ChildJvmException("the rseq child reported no thread: " + err);
            }
            dev.pkrseq.sys.PtraceCalls.ptrace(dev.pkrseq.sys.PtraceCalls.PTRACE_SEIZE, tid, 0, 0);
            p.getOutputStream().write("go\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            p.getOutputStream().flush();
            List<String> signals = new java.util.ArrayList<>();
            String fatal = null;
            try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
                java.lang.foreign.MemorySegment info = arena.allocate(128, 8);
                while (true) {
                    int status = dev.pkrseq.sys.PtraceCalls.waitpid(tid, dev.pkrseq.sys.PtraceCalls.WALL);
                    if ((status & 0x7f) != 0x7f) {
                        break; // the thread exited or was killed
                    }
                    int sig = (status >> 8) & 0xff;
                    if ((status >>> 16) != 0) {
                        dev.pkrseq.sys.PtraceCalls.ptrace(dev.pkrseq.sys.PtraceCalls.PTRACE_CONT, tid, 0, 0);
                        continue; // a ptrace event stop, not a signal
                    }
                    dev.pkrseq.sys.PtraceCalls.ptrace(dev.pkrseq.sys.PtraceCalls.PTRACE_GETSIGINFO, tid, 0, info.address());
                    int code = info.get(JAVA_INT, 8);
                    long addr = info.get(java.lang.foreign.ValueLayout.JAVA_LONG, 16);
                    String seen = CrashLog.signalName(128 + sig) + " si_code " + code + " (" + codeName(sig, code)
                            + "), si_addr 0x" + Long.toHexString(addr);
                    if (signals.size() < 8) {
                        signals.add(seen);
                    }
                    if (sig == ThreadCalls.SIGSEGV && fatal == null && code != 2 && code != 1) {
                        fatal = seen; // not one of HotSpot's own (a poll page's SEGV_ACCERR, a null check's SEGV_MAPERR)
                    }
                    dev.pkrseq.sys.PtraceCalls.ptrace(dev.pkrseq.sys.PtraceCalls.PTRACE_CONT, tid, 0, sig);
                }
            } catch (dev.pkrseq.NativeException e) {
                signals.add("tracing ended: " + e.getMessage());
            }
            String rest;
            try {
                rest = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            } catch (IOException e) {
                rest = "";
            }
            int exit = p.waitFor();
            drain.join(5000);
            boolean survived = rest.contains("survived=");
            detail.append("; thread ").append(tid).append(" (the child's main) traced by this JVM; signals it stopped for: ")
                    .append(signals.isEmpty() ? "none" : String.join(", ", signals)).append("; exit ").append(exit)
                    .append(exit > 128 ? " (" + CrashLog.signalName(exit) + ")" : "");
            String observed = survived ? "survived" : fatal != null
                    ? "thread " + tid + " got " + fatal + "; the process was killed (exit " + exit + ")"
                    : "killed (exit " + exit + "), no SIGSEGV of its own seen";
            return new ChildOutcome(survived, observed, detail.toString());
        } catch (IOException e) {
            throw new UncheckedIOException("the rseq child's output could not be read", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ChildJvm.ChildJvmException("interrupted while the rseq child ran", e);
        } finally {
            watchdog.shutdownNow();
        }
    }

    /** SIGSEGV's si_code by name as the kernel defines them, and SI_KERNEL (0x80) for a signal the kernel forced. */
    static String codeName(int sig, int code) {
        if (code == 0x80) {
            return "SI_KERNEL";
        }
        if (code == 0) {
            return "SI_USER";
        }
        if (code == -6) {
            return "SI_TKILL";
        }
        if (sig == ThreadCalls.SIGSEGV && code >= 1 && code <= 4) {
            return new String[] {"SEGV_MAPERR", "SEGV_ACCERR", "SEGV_BNDERR", "SEGV_PKUERR"}[code - 1];
        }
        return "code " + code;
    }

    private static Optional<String> currentThread(Path dir) {
        return CrashLog.find(dir).flatMap(log -> {
            try {
                Matcher m = CURRENT_THREAD.matcher(Files.readString(log));
                return m.find() ? Optional.of(m.group(1).strip()) : Optional.empty();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    private abstract static class Base extends DescribedExperiment {
        Base(String id, String title, String expected) {
            super(id, title, expected);
        }

        @Override
        public ExperimentResult run() {
            if (!Syscall.architectureSupported()) {
                return ExperimentResult.skipped(this, Syscall.architecture() + " is not supported");
            }
            String rseqMissing = Rseq.availability().reason();
            if (rseqMissing != null) {
                return ExperimentResult.skipped(this, rseqMissing);
            }
            if (!Pkeys.supported()) {
                return ExperimentResult.skipped(this, "protection keys are not available: "
                        + Pkeys.unavailableReason().orElse("unknown reason"));
            }
            return observe();
        }

        abstract ExperimentResult observe();
    }

    static final class GlibcAreaUnderKey extends Base {
        GlibcAreaUnderKey() {
            super("rseq.glibc-area-under-key", "tag the page of glibc's rseq area and deny the thread write access"
                    + " (child JVM, traced)", "the process dies by SIGSEGV: the page holds the thread's static TLS as well"
                    + " as the rseq area the kernel updates after every preemption");
        }

        @Override
        ExperimentResult observe() {
            ChildOutcome o = runTraced("glibc");
            return ExperimentResult.of(this, !o.survived() && o.observed().contains("SIGSEGV"), o.observed(), o.detail());
        }
    }

    static final class OwnAreaUntagged extends Base {
        OwnAreaUntagged() {
            super("rseq.own-area-untagged-survives", "pkrseq's own registration in an untagged page, a tagged page"
                    + " denied no-write, 300 yields (child JVM, glibc's registration off)",
                    "the thread survives, and cpu_id stays current");
        }

        @Override
        ExperimentResult observe() {
            ChildOutcome o = runChild("own", false);
            return ExperimentResult.of(this, o.survived(), o.observed(), o.detail());
        }
    }

    static final class RetagDenyRefused extends Base {
        RetagDenyRefused() {
            super("rseq.retag-deny-refused", "retag the thread's static TLS (the seed's rule, child JVM), then ask to"
                    + " deny the key", "the retag covers glibc's rseq area; the denial is refused by"
                    + " ThreadMemoryTaggedException naming the rseq area");
        }

        @Override
        ExperimentResult observe() {
            if (Rseq.glibcSize() <= 0) {
                return ExperimentResult.skipped(this, "glibc registered no rseq area here (__rseq_size 0)");
            }
            // The TLS retag probe's child (interpreted, serial GC, collected before the window) retags and asks
            // to deny: the refusal must name the rseq area.
            TlsRetagProbe.Report r = TlsRetagProbe.retag(CHILD_TIMEOUT);
            boolean named = r.denyMessage() != null && r.denyMessage().contains("the rseq area");
            return ExperimentResult.of(this, r.denyRefused() && named, "deny " + (r.denyRefused() ? "refused" : "allowed")
                    + (named ? ", naming the rseq area" : ", without naming the rseq area"), String.valueOf(r.denyMessage()));
        }
    }

    /**
     * The child JVM: tags the page where glibc keeps the thread's rseq area and denies itself write access to
     * it with raw calls, which the library refuses. Not for calling in a JVM that should live.
     */
    public static final class Child {
        private Child() {
        }

        /** Reports this thread's tid, then waits for the parent's "go": its tracer has seized the thread. */
        private static void awaitTracer() {
            ChildReport.put("tid", ThreadCalls.gettid());
            try {
                new java.io.BufferedReader(new java.io.InputStreamReader(System.in,
                        java.nio.charset.StandardCharsets.US_ASCII)).readLine();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        /**
         * Runs one mode: {@code glibc} (glibc's area, in the tagged page) or {@code own} (pkrseq's own
         * registration, untagged, glibc's off).
         *
         * @param args the mode
         */
        public static void main(String[] args) {
            if (args[0].equals("selfsegv")) {
                // The tracer's own check, on any machine: a SIGSEGV this thread sends itself.
                awaitTracer();
                ThreadCalls.tgkill(ThreadCalls.getpid(), ThreadCalls.gettid(), ThreadCalls.SIGSEGV);
                return;
            }
            boolean own = args[0].equals("own");
            long page = MemoryCalls.pageSize();
            long tp = LoaderCalls.threadPointer();
            long glibcArea = tp + LoaderCalls.longSymbol("__rseq_offset").orElse(0);
            // glibc's mode tags the page of its area (the TCB page); the own mode tags a page of its own, which holds
            // no TLS: on glibc 2.36 the TCB page also holds libc's static TLS, which the thread writes itself.
            long target = own ? Pages.allocate(java.lang.foreign.Arena.global(), 1).address() : glibcArea & -page;
            RseqArea area = own ? Rseq.register() : null;
            long kernelArea = own ? area.address() : glibcArea;
            ChildReport.put("detail", "tid " + ThreadCalls.gettid() + ", glibc's area 0x" + Long.toHexString(glibcArea) + " (__rseq_size "
                    + Rseq.glibcSize() + "), the kernel's area 0x" + Long.toHexString(kernelArea) + (own ? " (pkrseq's own)"
                            : "") + ", tagged page 0x" + Long.toHexString(target));
            BitSet cpu0 = new BitSet();
            cpu0.set(0);
            AtomicBoolean stop = new AtomicBoolean();
            Thread busy = Thread.ofPlatform().name("pkrseq-busy").start(() -> {
                ThreadCalls.schedSetaffinity(ThreadCalls.gettid(), cpu0);
                while (!stop.get()) {
                    Thread.onSpinWait();
                }
            });
            ThreadCalls.schedSetaffinity(ThreadCalls.gettid(), cpu0);
            int prot = Smaps.containing(Smaps.self(), target).map(m -> m.protection().bits()).orElse(MemoryCalls.PROT_READ | MemoryCalls.PROT_WRITE);
            int key = PkeyCalls.pkeyAlloc(0, 0);
            PkeyCalls.pkeyMprotect(target, page, prot, key);
            ChildReport.put("step", "tagged with key " + key);
            if (args.length > 1 && args[1].equals("traced")) {
                awaitTracer();
            }
            int before = MemoryCalls.memory(kernelArea, 32).get(JAVA_INT, RseqAbi.CPU_ID);
            PkeyCalls.pkeySet(key, PkeyCalls.PKEY_DISABLE_WRITE);
            for (int i = 0; i < YIELDS; i++) {
                ThreadCalls.schedYield();
            }
            PkeyCalls.pkeySet(key, 0);
            ChildReport.put("step", "yielded " + YIELDS + " times under no-write");
            stop.set(true);
            int after = MemoryCalls.memory(kernelArea, 32).get(JAVA_INT, RseqAbi.CPU_ID);
            PkeyCalls.pkeyMprotect(target, page, prot, 0);
            PkeyCalls.pkeyFree(key);
            ChildReport.put("survived", "cpu_id " + before + " before, " + after + " after");
        }
    }
}
