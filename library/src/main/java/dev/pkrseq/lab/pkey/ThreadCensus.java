package dev.pkrseq.lab.pkey;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.pkrseq.lab.ChildJvm;
import dev.pkrseq.lab.ChildReport;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import dev.pkrseq.pkey.Pkeys;
import dev.pkrseq.pkey.Pkru;
import dev.pkrseq.pkey.Rights;
import dev.pkrseq.proc.Task;
import dev.pkrseq.sys.Cpuid;
import dev.pkrseq.sys.KernelPathCalls;
import dev.pkrseq.NativeException;
import dev.pkrseq.sys.PtraceCalls;
import dev.pkrseq.sys.ThreadCalls;
import dev.pkrseq.sys.Syscall;

/**
 * Every thread of this JVM and its rights to each allocated protection key: {@code pkrseq pkeys --threads}.
 *
 * <p>PKRU is per thread and only the thread itself can read it (RDPKRU). From outside, the kernel shows it
 * to a tracer: PKRU is component 9 of the XSAVE area, which {@code PTRACE_GETREGSET} with
 * {@code NT_X86_XSTATE} copies out of a stopped thread, in the standard format, at the offset CPUID leaf
 * 0xD sub-leaf 9 gives (EBX). A process cannot trace its own threads, so a helper child JVM does it: this
 * JVM allows it with {@code prctl(PR_SET_PTRACER, helper)} (Yama's ptrace_scope 1 would refuse a child
 * tracing its parent otherwise), and the helper, for each thread, {@code PTRACE_SEIZE}s it (no stop),
 * {@code PTRACE_INTERRUPT}s it, waits for the stop, reads the XSAVE area and {@code PTRACE_DETACH}es, which
 * lets the thread run on. A thread that was stopped for a signal rather than for the interrupt gets its
 * signal back at the detach. A thread is stopped for the time of four system calls.
 *
 * <p>Nothing can leave a thread stopped: if the helper dies or is killed at any point (it has a time
 * limit), the kernel detaches every thread it traced and they run on.
 */
public final class ThreadCensus {
    /** How long the helper may take; generous, because emulated machines start JVMs slowly. */
    static final Duration HELPER_TIMEOUT = Duration.ofSeconds(300);
    /** The size of the buffer for one XSAVE area; the kernel copies at most this much. */
    static final int XSTATE_BUFFER = 64 * 1024;
    /** The XSAVE component of PKRU. */
    static final int XFEATURE_PKRU = 9;
    /** Where XSTATE_BV lies in the XSAVE area: the first word of the header, after the 512-byte legacy area. */
    static final int XSTATE_BV = 512;

    private ThreadCensus() {
    }

    /**
     * One thread.
     *
     * @param tid its thread id
     * @param name its name as the kernel knows it ({@code comm}: HotSpot's or Java's name, cut to 15 bytes)
     * @param kind what it is, where the name tells: main, launcher, GC, JIT compiler, VM, carrier,
     *     service, this census, or other
     * @param pkru its PKRU, for example {@code 0x55555554}; null when it could not be read
     * @param rights its rights to each allocated key; empty when PKRU could not be read
     * @param error why PKRU could not be read, or null
     */
    public record ThreadRights(int tid, String name, String kind, String pkru, Map<Integer, Rights> rights,
            String error) {
    }

    /**
     * The census.
     *
     * @param supported whether PKRU could be read for the threads
     * @param reason why not, or null
     * @param pid this JVM's process id
     * @param helper how the helper traced this JVM, in words
     * @param keys the keys allocated in this process now, key 0 included
     * @param pkruOffset where PKRU lies in the XSAVE area (CPUID 0xD.9 EBX); null without PKU
     * @param callerTid the thread that took the census (its PKRU is also read directly, as a check)
     * @param callerPkru that thread's own reading of its PKRU; null without PKU
     * @param threads every thread, in tid order
     */
    public record Census(boolean supported, String reason, int pid, String helper, List<Integer> keys,
            Integer pkruOffset, int callerTid, String callerPkru, List<ThreadRights> threads) {
    }

    /**
     * What a thread is, from its name: HotSpot names its own threads, and the JDK names the Java ones.
     *
     * @param name the thread's {@code comm}
     * @param tid its id
     * @return main, launcher, GC, JIT compiler, VM, carrier, service or other
     */
    static String kind(String name, int tid) {
        if (tid == ThreadCalls.getpid()) {
            return "launcher";
        }
        if (name.equals("main")) {
            return "main";
        }
        if (name.startsWith("GC Thread") || name.startsWith("G1 ") || name.startsWith("ZGC") || name.startsWith("Z ")
                || name.startsWith("Shenandoah") || name.startsWith("Serial") || name.startsWith("Parallel")) {
            return "GC";
        }
        if (name.startsWith("C1 Compiler") || name.startsWith("C2 Compiler") || name.contains("CompilerThre")) {
            return "JIT compiler";
        }
        if (name.equals("VM Thread") || name.startsWith("VM Periodic")) {
            return "VM";
        }
        if (name.startsWith("ForkJoinPool-") && name.contains("worker")) {
            return "carrier";
        }
        if (Stream.of("Reference Handl", "Finalizer", "Signal Dispatch", "Service Thread", "Monitor Deflati",
                "Common-Cleaner", "Notification Th", "Attach Listener", "Sweeper thread", "JFR ")
                .anyMatch(name::startsWith)) {
            return "service";
        }
        return "other";
    }

    /**
     * Takes the census: every thread of this JVM, its PKRU and its rights to each allocated key.
     *
     * @return the census; where PKRU cannot be read (no PKU, tracing forbidden), each thread says why
     * @throws UnsupportedOperationException on an architecture other than x86_64
     * @throws ChildJvm.ChildJvmException when the helper cannot start or outlives its time limit
     */
    public static Census take() {
        if (!Syscall.architectureSupported()) {
            throw new UnsupportedOperationException("the thread census reads x86 XSAVE areas: " + Syscall.architecture()
                    + " has none");
        }
        boolean pkeys = Pkeys.supported() && !Thread.currentThread().isVirtual();
        List<Integer> keys = pkeys ? Pkeys.allocatedNow() : List.of(0);
        String callerPkru = pkeys ? hex(Pkru.current().value()) : null;
        int pid = ThreadCalls.getpid();
        int callerTid = ThreadCalls.gettid();
        Map<Integer, String> lines = new HashMap<>();
        Integer offset;
        String helperWords;
        ScheduledExecutorService watchdog = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "pkrseq-census-watchdog");
            t.setDaemon(true);
            return t;
        });
        try (ChildJvm.Running helper = ChildJvm.of(Helper.class)
                .jvmArgs("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")
                .args(Integer.toString(pid))
                .start(false)) {
            Process p = helper.process();
            watchdog.schedule(helper::close, HELPER_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            String allowed;
            try {
                PtraceCalls.setPtracer(p.pid());
                allowed = "prctl(PR_SET_PTRACER, " + p.pid() + ")";
            } catch (NativeException e) {
                // Without Yama there is no such prctl (EINVAL); tracing then follows the ordinary rules.
                allowed = "prctl(PR_SET_PTRACER) failed: " + e.errno().name();
            }
            try {
                OutputStream in = p.getOutputStream();
                in.write("go\n".getBytes(StandardCharsets.US_ASCII));
                in.flush();
                in.close();
                ChildReport report = ChildReport.parse(new String(p.getInputStream().readAllBytes(),
                        StandardCharsets.UTF_8));
                for (String thread : report.all("thread")) {
                    String[] f = thread.split("\t", 2);
                    lines.put(Integer.parseInt(f[0]), f.length > 1 ? f[1] : "");
                }
                Integer off = report.first("offset").map(Integer::parseInt).filter(o -> o >= 0).orElse(null);
                p.waitFor(HELPER_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
                offset = off;
            } catch (IOException e) {
                throw new UncheckedIOException("the census helper's output could not be read", e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ChildJvm.ChildJvmException("interrupted while the census helper ran", e);
            } finally {
                try {
                    PtraceCalls.setPtracer(0);
                } catch (NativeException e) {
                    // Nothing was granted.
                }
            }
            helperWords = "helper JVM pid " + p.pid() + " (exit " + (p.isAlive() ? "none: killed" : p.exitValue()) + "), "
                    + allowed + ", then PTRACE_SEIZE, PTRACE_INTERRUPT, waitpid, PTRACE_GETREGSET NT_X86_XSTATE,"
                    + " PTRACE_DETACH per thread";
        } finally {
            watchdog.shutdownNow();
        }
        List<ThreadRights> threads = new ArrayList<>();
        for (int tid : tids(pid)) {
            String name = Task.comm(tid).orElse("?");
            if (!lines.containsKey(tid)) {
                continue; // started after the helper listed the threads
            }
            threads.add(parse(tid, name, tid == callerTid ? "this census (" + Thread.currentThread().getName() + ")" : kind(name, tid), lines.get(tid), keys));
        }
        boolean read = threads.stream().anyMatch(t -> t.pkru() != null);
        String reason = read ? null : !Pkeys.supported()
                ? "protection keys are not available: " + Pkeys.unavailableReason().orElse("unknown reason")
                : threads.stream().map(ThreadRights::error).filter(e -> e != null).findFirst().orElse("no thread read");
        return new Census(read, reason, pid, helperWords, keys, offset, callerTid, callerPkru, threads);
    }

    private static ThreadRights parse(int tid, String name, String kind, String line, List<Integer> keys) {
        Map<String, String> f = new HashMap<>();
        for (String part : line.split("\t")) {
            int eq = part.indexOf('=');
            if (eq > 0) {
                f.put(part.substring(0, eq), part.substring(eq + 1));
            }
        }
        if (f.containsKey("error")) {
            return new ThreadRights(tid, name, kind, null, Map.of(), f.get("error"));
        }
        if (!f.containsKey("pkru")) {
            return new ThreadRights(tid, name, kind, null, Map.of(), f.getOrDefault("why",
                    "the XSAVE area has no PKRU component (a CPU without PKU)"));
        }
        Pkru pkru = new Pkru((int) Long.parseLong(f.get("pkru").substring(2), 16));
        Map<Integer, Rights> rights = new TreeMap<>();
        for (int k : keys) {
            rights.put(k, pkru.rights(k));
        }
        return new ThreadRights(tid, name, kind, hex(pkru.value()), rights, null);
    }

    private static String hex(int v) {
        return String.format(Locale.ROOT, "0x%08x", v);
    }

    private static List<Integer> tids(int pid) {
        try (Stream<Path> s = Files.list(Path.of("/proc/" + pid + "/task"))) {
            return s.map(x -> Integer.parseInt(x.getFileName().toString())).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list /proc/" + pid + "/task", e);
        }
    }

    /**
     * The helper JVM: traces the threads of the process named by its argument, one at a time, and prints
     * {@code offset=} (PKRU's offset in the XSAVE area, or -1) and one {@code thread=<tid>\t...} line per
     * thread with {@code pkru=0x...} or {@code error=...}. It starts when a line arrives on its standard
     * input (the parent has allowed it to trace by then).
     */
    public static final class Helper {
        private static final int SIGTRAP = 5;
        private static final int PTRACE_EVENT_STOP = 128;

        private Helper() {
        }

        /**
         * Runs the census of one process.
         *
         * @param args the process id
         * @throws IOException when standard input cannot be read
         */
        public static void main(String[] args) throws IOException {
            int pid = Integer.parseInt(args[0]);
            new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII)).readLine();
            int[] leaf0 = Cpuid.query(0xD, 0);
            int offset = (leaf0[0] & (1 << XFEATURE_PKRU)) != 0 ? Cpuid.query(0xD, XFEATURE_PKRU)[1] : -1;
            ChildReport.put("offset", offset);
            MemorySegment buffer = Arena.global().allocate(XSTATE_BUFFER, 64);
            MemorySegment iov = Arena.global().allocate(KernelPathCalls.IOVEC);
            // Reported after every thread was read: no line while a thread of the parent is stopped.
            List<String> threads = new ArrayList<>();
            for (int tid : tids(pid)) {
                threads.add(tid + "\t" + one(tid, offset, buffer, iov));
            }
            threads.forEach(t -> ChildReport.put("thread", t));
        }

        private static String one(int tid, int offset, MemorySegment buffer, MemorySegment iov) {
            try {
                PtraceCalls.ptrace(PtraceCalls.PTRACE_SEIZE, tid, 0, 0);
            } catch (NativeException e) {
                return "error=PTRACE_SEIZE: " + e.errno().name() + (e.errno().name().equals("EPERM")
                        ? " (tracing forbidden: Yama ptrace_scope, a seccomp policy or a non-dumpable process)" : "");
            }
            int inject = 0;
            String result;
            try {
                PtraceCalls.ptrace(PtraceCalls.PTRACE_INTERRUPT, tid, 0, 0);
                int status = PtraceCalls.waitpid(tid, PtraceCalls.WALL);
                if ((status & 0x7f) != 0x7f) {
                    return "error=the thread ended during the census";
                }
                int sig = (status >> 8) & 0xff;
                int event = status >>> 16;
                if (event == 0 && sig != SIGTRAP) {
                    inject = sig; // stopped to deliver a signal: hand it back at the detach
                }
                buffer.fill((byte) 0);
                iov.set(JAVA_LONG, KernelPathCalls.IOV_BASE, buffer.address());
                iov.set(JAVA_LONG, KernelPathCalls.IOV_LEN, XSTATE_BUFFER);
                PtraceCalls.ptrace(PtraceCalls.PTRACE_GETREGSET, tid, PtraceCalls.NT_X86_XSTATE, iov.address());
                long length = iov.get(JAVA_LONG, KernelPathCalls.IOV_LEN);
                long bv = buffer.get(JAVA_LONG, XSTATE_BV);
                if (offset < 0 || offset + 4 > length) {
                    result = "why=the XSAVE area (" + length + " bytes) has no PKRU component: the CPU has no PKU";
                } else {
                    result = "pkru=0x" + Integer.toHexString(buffer.get(JAVA_INT, offset)) + "\txstate_bv=0x"
                            + Long.toHexString(bv) + "\tlength=" + length + (event == PTRACE_EVENT_STOP ? "" : "\tstop=" + sig);
                }
            } catch (NativeException e) {
                result = "error=" + e.getMessage();
            } finally {
                try {
                    PtraceCalls.ptrace(PtraceCalls.PTRACE_DETACH, tid, 0, inject);
                } catch (NativeException e) {
                    // ESRCH: the thread is gone, or (never seen) not stopped; the kernel detaches at exit anyway.
                }
            }
            return result;
        }
    }
}
