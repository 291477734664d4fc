package dev.pkrseq.lab.pkey;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.pkrseq.lab.AccessProbe;
import dev.pkrseq.lab.ChildJvm;
import dev.pkrseq.lab.ChildReport;
import dev.pkrseq.lab.CrashLog;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import dev.pkrseq.pkey.Pages;
import dev.pkrseq.pkey.Pkeys;
import dev.pkrseq.pkey.Pkru;
import dev.pkrseq.UnavailableException;
import dev.pkrseq.VirtualThreadException;
import dev.pkrseq.pkey.Protection;
import dev.pkrseq.pkey.ProtectionKey;
import dev.pkrseq.pkey.Rights;
import dev.pkrseq.pkey.RightsScope;
import dev.pkrseq.rseq.RseqAbi;
import dev.pkrseq.sys.CStructs;
import dev.pkrseq.sys.KernelPathCalls;
import dev.pkrseq.NativeException;
import dev.pkrseq.sys.LoaderCalls;
import dev.pkrseq.sys.MemoryCalls;
import dev.pkrseq.sys.RseqCalls;
import dev.pkrseq.sys.ThreadCalls;
import dev.pkrseq.sys.Uname;

/**
 * The kernel-path matrix: for a page under a protection key that the calling thread holds with
 * {@link Rights#NO_ACCESS} or {@link Rights#NO_WRITE}, what each kernel path that reads or writes user
 * memory on the thread's behalf does with it.
 *
 * <p>Three families, after the kernel's sources:
 * <ul>
 *   <li><b>The thread's own copies</b> ({@code copy_from_user}, {@code copy_to_user}, {@code get_user}, and
 *       GUP of the caller's own mm): the hardware applies the thread's PKRU to the kernel's access, so a
 *       read of the page fails with EFAULT under no-access and a write under both.</li>
 *   <li><b>Foreign access</b> ({@code process_vm_readv/writev} and {@code /proc/self/mem}, even on the
 *       caller's own process): the kernel pins the pages with FOLL_REMOTE or FOLL_FORCE and copies
 *       through a kernel mapping, where PKRU does not apply: it gets through.</li>
 *   <li><b>Writes the kernel makes on its own</b> on the way back to user space: a signal frame on an
 *       alternate stack in the page, and struct rseq in the page. These may end in a signal, so they run
 *       in a child JVM.</li>
 * </ul>
 *
 * <p>Java never touches the page while the rights deny it: every access under test is the kernel's, in
 * a system call that fails politely, or happens in a child JVM that may die of it.
 */
public final class KernelPaths {
    /** How many bytes of the page each path hands the kernel. */
    static final int LENGTH = 64;
    /** How long one child JVM may take; generous, because emulated machines start JVMs slowly. */
    static final Duration CHILD_TIMEOUT = Duration.ofSeconds(600);
    /** The result of a path whose call succeeded. */
    public static final String OK = "ok";

    private static final Protection RW = Protection.READ_WRITE;
    /** The two rights the matrix tries, in report order. */
    public static final List<Rights> RIGHTS = List.of(Rights.NO_ACCESS, Rights.NO_WRITE);

    private KernelPaths() {
    }

    /** What a path does with the page, which decides what the thread's rights should allow. */
    public enum Access {
        /** The kernel reads the page for the thread (copy_from_user, get_user, GUP of its own mm for reading). */
        READS("the kernel reads the page for the thread"),
        /** The kernel writes the page for the thread (copy_to_user, put_user, an atomic futex op). */
        WRITES("the kernel writes the page for the thread"),
        /** The kernel reads the page as a foreign process would (FOLL_REMOTE, FOLL_FORCE). */
        FOREIGN_READ("the kernel reads the page as a foreign process would"),
        /** The kernel writes the page as a foreign process would. */
        FOREIGN_WRITE("the kernel writes the page as a foreign process would"),
        /** The kernel writes a signal frame to an alternate stack in the page. */
        SIGNAL_FRAME("the kernel writes a signal frame into the page"),
        /** The kernel writes struct rseq in the page on the way back to user space. */
        RSEQ_AREA("the kernel writes struct rseq in the page on every return to user space");

        private final String words;

        Access(String words) {
            this.words = words;
        }

        /**
         * In words, for reports.
         *
         * @return for example "the kernel reads the page for the thread"
         */
        public String words() {
            return words;
        }
    }

    /**
     * One kernel path.
     *
     * @param id the experiment suffix: {@code pkey.kernel-path.<id>}
     * @param call the call in C terms, with the page as {@code page}
     * @param access what the call does with the page
     * @param child whether it runs in a child JVM (it may end in a signal)
     */
    public record KernelPath(String id, String call, Access access, boolean child) {
        /**
         * What this kernel should do, from its sources, for the thread's rights.
         *
         * @param rights {@link Rights#NO_ACCESS} or {@link Rights#NO_WRITE}
         * @return {@link #OK}, an errno name, or for the child paths "survived" or "SIGSEGV"
         */
        public String expected(Rights rights) {
            return switch (access) {
                case READS -> rights == Rights.NO_ACCESS ? "EFAULT" : readOk();
                case WRITES -> "EFAULT";
                case FOREIGN_READ, FOREIGN_WRITE -> OK;
                case SIGNAL_FRAME -> signalFrameWritable() ? "survived" : "SIGSEGV";
                case RSEQ_AREA -> "SIGSEGV";
            };
        }

        private String readOk() {
            // A futex wait that may read the word finds another value and returns at once.
            return id.equals("futex-wait") ? "EAGAIN" : OK;
        }
    }

    /**
     * One cell of the matrix.
     *
     * @param path the path's id
     * @param call the call in C terms
     * @param access what the call does with the page, in words
     * @param rights the thread's rights for the page's key during the call
     * @param expected what the kernel's sources say
     * @param observed what happened: {@link #OK}, an errno name, "short n of m", "survived" or a signal
     * @param asExpected whether the two agree
     * @param detail how it was observed, in words
     */
    public record Row(String path, String call, String access, Rights rights, String expected, String observed,
            boolean asExpected, String detail) {
    }

    /**
     * The matrix as {@code pkrseq pkeys --kernel-paths} shows it.
     *
     * @param kernel the kernel release the matrix was taken on
     * @param supported whether protection keys work here; without them there are no rows
     * @param reason why not, or null
     * @param rows one per path and rights, in report order
     */
    public record Report(String kernel, boolean supported, String reason, List<Row> rows) {
        /**
         * How many rows agree with the kernel's sources.
         *
         * @return the count
         */
        public long asExpectedCount() {
            return rows.stream().filter(Row::asExpected).count();
        }
    }

    /**
     * Runs the matrix where protection keys work, and says why not elsewhere.
     *
     * @return the report
     */
    public static Report report() {
        String kernel = LoaderCalls.uname().release();
        if (!Pkeys.supported()) {
            return new Report(kernel, false, Pkeys.unavailableReason().orElse("protection keys are not available"),
                    List.of());
        }
        return new Report(kernel, true, null, run());
    }

    /**
     * Every path, in report order.
     *
     * @return the paths
     */
    public static List<KernelPath> paths() {
        return List.of(
                new KernelPath("write", "write(pipe, page, 64)", Access.READS, false),
                new KernelPath("read", "read(pipe, page, 64)", Access.WRITES, false),
                new KernelPath("pwrite", "pwrite(memfd, page, 64, 0)", Access.READS, false),
                new KernelPath("pread", "pread(memfd, page, 64, 0)", Access.WRITES, false),
                new KernelPath("writev", "writev(pipe, {page, 64}, 1)", Access.READS, false),
                new KernelPath("readv", "readv(pipe, {page, 64}, 1)", Access.WRITES, false),
                new KernelPath("send", "send(socketpair, page, 64, MSG_DONTWAIT)", Access.READS, false),
                new KernelPath("recv", "recv(socketpair, page, 64, MSG_DONTWAIT)", Access.WRITES, false),
                new KernelPath("vmsplice", "vmsplice(pipe, {page, 64}, 1, SPLICE_F_NONBLOCK)", Access.READS, false),
                new KernelPath("getrandom", "getrandom(page, 64, GRND_NONBLOCK)", Access.WRITES, false),
                new KernelPath("futex-wait", "futex(page, FUTEX_WAIT_PRIVATE, other value, {0, 0})", Access.READS, false),
                new KernelPath("futex-wake-op", "futex(.., FUTEX_WAKE_OP, .., page, add 0)", Access.WRITES, false),
                new KernelPath("process-vm-readv", "process_vm_readv(self, buf, 1, {page, 64}, 1, 0)", Access.FOREIGN_READ,
                        false),
                new KernelPath("process-vm-writev", "process_vm_writev(self, buf, 1, {page, 64}, 1, 0)",
                        Access.FOREIGN_WRITE, false),
                new KernelPath("proc-mem-pread", "pread(/proc/self/mem, buf, 64, page)", Access.FOREIGN_READ, false),
                new KernelPath("proc-mem-pwrite", "pwrite(/proc/self/mem, buf, 64, page)", Access.FOREIGN_WRITE, false),
                new KernelPath("sigaltstack", "sigaltstack({page, 4 pages}); tgkill(self, SIGUSR1) to an SA_ONSTACK"
                        + " handler", Access.SIGNAL_FRAME, true),
                new KernelPath("rseq-area", "rseq(page, 32, 0, RSEQ_SIG); then sleep (preemption)", Access.RSEQ_AREA,
                        true));
    }

    /**
     * One path by id.
     *
     * @param id for example {@code vmsplice}
     * @return the path
     * @throws IllegalArgumentException for an unknown id
     */
    public static KernelPath path(String id) {
        return paths().stream().filter(p -> p.id().equals(id)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no kernel path '" + id + "'"));
    }

    /**
     * Whether this kernel writes a signal frame with every key enabled: Linux 6.12 made signal delivery
     * enable all keys while it writes the frame (sig_prepare_pkru, "x86/pkeys: Update PKRU to enable all
     * pkeys before XSAVE"), so an alternate stack under a key the thread denies itself works; before, the
     * frame write failed and the thread got SIGSEGV.
     *
     * @return true from Linux 6.12
     */
    static boolean signalFrameWritable() {
        String release = LoaderCalls.uname().release();
        String[] parts = release.split("[.-]");
        try {
            int major = Integer.parseInt(parts[0]);
            int minor = Integer.parseInt(parts[1]);
            return major > 6 || (major == 6 && minor >= 12);
        } catch (RuntimeException e) {
            return false;
        }
    }

    /**
     * Runs the whole matrix: the in-process paths on this thread, the child paths in child JVMs, four at
     * a time.
     *
     * @return one row per path and rights, in report order
     * @throws UnavailableException where protection keys do not work
     */
    public static List<Row> run() {
        return run(paths());
    }

    /**
     * Runs some paths.
     *
     * @param paths the paths
     * @return one row per path and rights, in order
     * @throws UnavailableException where protection keys do not work
     */
    public static List<Row> run(List<KernelPath> paths) {
        requirePkeys();
        List<CompletableFuture<Row>> children = new ArrayList<>();
        ExecutorService pool = Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "pkrseq-kernel-path-child");
            t.setDaemon(true);
            return t;
        });
        try {
            for (KernelPath p : paths) {
                if (p.child()) {
                    for (Rights r : RIGHTS) {
                        children.add(CompletableFuture.supplyAsync(() -> runChild(p, r), pool));
                    }
                }
            }
            List<Row> rows = new ArrayList<>();
            int next = 0;
            for (KernelPath p : paths) {
                for (Rights r : RIGHTS) {
                    rows.add(p.child() ? children.get(next++).join() : runInProcess(p, r));
                }
            }
            return rows;
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * Runs one cell.
     *
     * @param path the path
     * @param rights {@link Rights#NO_ACCESS} or {@link Rights#NO_WRITE}
     * @return the row
     * @throws UnavailableException where protection keys do not work
     */
    public static Row run(KernelPath path, Rights rights) {
        requirePkeys();
        return path.child() ? runChild(path, rights) : runInProcess(path, rights);
    }

    private static void requirePkeys() {
        if (!Pkeys.supported()) {
            throw new UnavailableException(UnavailableException.Feature.PKEYS, "cannot run the kernel-path matrix: "
                    + Pkeys.unavailableReason().orElse("protection keys are not available"));
        }
        if (Thread.currentThread().isVirtual()) {
            throw new VirtualThreadException("the kernel-path matrix sets PKRU: run it on a platform thread");
        }
    }

    private static Row row(KernelPath p, Rights r, String observed, String detail) {
        String expected = p.expected(r);
        return new Row(p.id(), p.call(), p.access().words(), r, expected, observed, expected.equals(observed), detail);
    }

    // ---- In process ---------------------------------------------------------------------------

    /** A page under a fresh key, a plain buffer beside it, and an iovec for each. */
    private record Scene(ProtectionKey key, long page, long buffer, long pageIov, long bufferIov) {
        /**
         * Fills a fresh page and a plain buffer with the same bytes, describes each by an iovec, then tags the
         * page with {@code key} (none for the control).
         */
        static Scene lay(Arena arena, ProtectionKey key) {
            MemorySegment page = Pages.allocate(arena, 1);
            MemorySegment plain = arena.allocate(4096, 64);
            for (int i = 0; i < LENGTH; i++) {
                page.set(JAVA_BYTE, i, (byte) i);
                plain.set(JAVA_BYTE, i, (byte) i);
            }
            long pageIov = iovec(arena, page.address());
            long bufferIov = iovec(arena, plain.address());
            if (key != null) {
                key.protect(page, RW);
            }
            return new Scene(key, page.address(), plain.address(), pageIov, bufferIov);
        }

        private static long iovec(Arena arena, long base) {
            MemorySegment iov = arena.allocate(KernelPathCalls.IOVEC);
            iov.set(JAVA_LONG, KernelPathCalls.IOV_BASE, base);
            iov.set(JAVA_LONG, KernelPathCalls.IOV_LEN, LENGTH);
            return iov.address();
        }
    }

    private static Row runInProcess(KernelPath p, Rights rights) {
        Pkru saved = Pkru.current();
        try (ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE); Arena arena = Arena.ofConfined()) {
            Scene s = Scene.lay(arena, key);
            String observed;
            try (RightsScope _ = key.withRights(rights)) {
                observed = attempt(p.id(), s);
            }
            return row(p, rights, observed, "key " + key.number() + ", page 0x" + Long.toHexString(s.page())
                    + ", " + LENGTH + " bytes, on thread '" + Thread.currentThread().getName() + "' (tid " + ThreadCalls.gettid()
                    + ")");
        } finally {
            saved.restore();
        }
    }

    /**
     * The control: the same call on a page that carries no key, where every in-process path must move its
     * bytes (the futex wait finds another value: EAGAIN). Runs without protection keys too.
     */
    static String attemptOnPlainPage(KernelPath p) {
        try (Arena arena = Arena.ofConfined()) {
            return attempt(p.id(), Scene.lay(arena, null));
        }
    }

    /** Makes the one call under test; everything else it needs was made before, or uses plain memory. */
    private static String attempt(String id, Scene s) {
        return switch (id) {
            case "write" -> withPipe(fds -> MemoryCalls.write(fds[1], s.page(), LENGTH));
            case "read" -> withPipe(fds -> {
                MemoryCalls.write(fds[1], s.buffer(), LENGTH);
                return MemoryCalls.read(fds[0], s.page(), LENGTH);
            });
            case "pwrite" -> withMemfd(fd -> KernelPathCalls.pwrite(fd, s.page(), LENGTH, 0));
            case "pread" -> withMemfd(fd -> {
                KernelPathCalls.pwrite(fd, s.buffer(), LENGTH, 0);
                return KernelPathCalls.pread(fd, s.page(), LENGTH, 0);
            });
            case "writev" -> withPipe(fds -> KernelPathCalls.writev(fds[1], s.pageIov(), 1));
            case "readv" -> withPipe(fds -> {
                MemoryCalls.write(fds[1], s.buffer(), LENGTH);
                return KernelPathCalls.readv(fds[0], s.pageIov(), 1);
            });
            case "send" -> withSockets(sv -> KernelPathCalls.send(sv[0], s.page(), LENGTH, KernelPathCalls.MSG_DONTWAIT));
            case "recv" -> withSockets(sv -> {
                KernelPathCalls.send(sv[0], s.buffer(), LENGTH, KernelPathCalls.MSG_DONTWAIT);
                return KernelPathCalls.recv(sv[1], s.page(), LENGTH, KernelPathCalls.MSG_DONTWAIT);
            });
            case "vmsplice" -> withPipe(fds -> KernelPathCalls.vmsplice(fds[1], s.pageIov(), 1,
                    KernelPathCalls.SPLICE_F_NONBLOCK));
            case "getrandom" -> outcome(() -> KernelPathCalls.getrandom(s.page(), LENGTH, KernelPathCalls.GRND_NONBLOCK));
            case "futex-wait" -> futexWait(s);
            case "futex-wake-op" -> AccessProbe.canWrite(s.page(), 4) ? OK : "EFAULT";
            case "process-vm-readv" -> outcome(() -> KernelPathCalls.processVmReadv(ThreadCalls.getpid(), s.bufferIov(),
                    s.pageIov()));
            case "process-vm-writev" -> outcome(() -> KernelPathCalls.processVmWritev(ThreadCalls.getpid(), s.bufferIov(),
                    s.pageIov()));
            case "proc-mem-pread" -> withProcMem(fd -> KernelPathCalls.pread(fd, s.buffer(), LENGTH, s.page()));
            case "proc-mem-pwrite" -> withProcMem(fd -> KernelPathCalls.pwrite(fd, s.buffer(), LENGTH, s.page()));
            default -> throw new IllegalArgumentException("not an in-process kernel path: " + id);
        };
    }

    @FunctionalInterface
    private interface Transfer {
        long call();
    }

    @FunctionalInterface
    private interface FdsTransfer {
        long call(int[] fds);
    }

    @FunctionalInterface
    private interface FdTransfer {
        long call(int fd);
    }

    /** OK when the call moved all {@link #LENGTH} bytes, the errno by name when it failed. */
    private static String outcome(Transfer t) {
        try {
            long n = t.call();
            return n == LENGTH ? OK : "short " + n + " of " + LENGTH;
        } catch (NativeException e) {
            return e.errno().name();
        }
    }

    private static String withPipe(FdsTransfer t) {
        return closingBoth(MemoryCalls.pipe2(MemoryCalls.O_CLOEXEC | MemoryCalls.O_NONBLOCK), t);
    }

    private static String withSockets(FdsTransfer t) {
        return closingBoth(KernelPathCalls.unixSocketPair(), t);
    }

    private static String closingBoth(int[] fds, FdsTransfer t) {
        try {
            return outcome(() -> t.call(fds));
        } finally {
            MemoryCalls.close(fds[0]);
            MemoryCalls.close(fds[1]);
        }
    }

    private static String withMemfd(FdTransfer t) {
        return closing(KernelPathCalls.memfdCreate("pkrseq-kernel-path"), t);
    }

    private static String withProcMem(FdTransfer t) {
        return closing(KernelPathCalls.open("/proc/self/mem", KernelPathCalls.O_RDWR), t);
    }

    private static String closing(int fd, FdTransfer t) {
        try {
            return outcome(() -> t.call(fd));
        } finally {
            MemoryCalls.close(fd);
        }
    }

    /** The word holds 0x03020100 (the page's first bytes); waiting for another value returns at once. */
    private static String futexWait(Scene s) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment zero = arena.allocate(KernelPathCalls.TIMESPEC);
            KernelPathCalls.futexWait(s.page(), 0x7e7e7e7e, zero.address());
            return "woken";
        } catch (NativeException e) {
            return e.errno().name();
        }
    }

    // ---- In a child JVM -----------------------------------------------------------------------

    private static Row runChild(KernelPath p, Rights rights) {
        Path dir = CrashLog.directory("pkrseq-kernel-path-");
        try {
            ChildJvm child = ChildJvm.of(Child.class)
                    .directory(dir)
                    .jvmArgs(CrashLog.jvmArgs(dir))
                    .jvmArgs("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss1m")
                    .args(p.id(), rights.name())
                    .timeout(CHILD_TIMEOUT);
            if (p.access() == Access.RSEQ_AREA) {
                // No glibc registration, so the child may register its own area in the tagged page.
                child.env("GLIBC_TUNABLES", "glibc.pthread.rseq=0");
            }
            ChildJvm.Result r = child.run();
            CrashLog c = CrashLog.of(r.exitCode(), dir);
            List<String> steps = r.report().all("step");
            String last = steps.isEmpty() ? "none" : steps.get(steps.size() - 1);
            String observed;
            if (!r.report().all("survived").isEmpty()) {
                observed = r.report().get("survived").equals("true") ? "survived" : "survived, but the handler did not run";
            } else if (c.signal() != null) {
                observed = c.signal();
            } else if (c.exitSignal() != null) {
                observed = c.exitSignal();
            } else {
                observed = "exit " + r.exitCode();
            }
            StringBuilder detail = new StringBuilder("in a child JVM: last step '" + last + "'");
            r.report().all("detail").forEach(d -> detail.append("; ").append(d));
            if (c.signal() != null) {
                detail.append("; crash log: ").append(c.signal()).append(", si_code ").append(c.siCode()).append(" (")
                        .append(c.siCodeName()).append(")");
            }
            detail.append("; exit ").append(r.exitCode()).append(c.exitSignal() == null ? "" : " (" + c.exitSignal() + ")");
            if (observed.startsWith("exit ") && !r.stderr().isBlank()) {
                detail.append("; stderr: ").append(r.stderr().strip().lines().reduce((a, b) -> b).orElse(""));
            }
            return row(p, rights, observed, detail.toString());
        } finally {
            CrashLog.deleteTree(dir);
        }
    }

    /**
     * The child JVM of the signal-stack and rseq-area paths: it may die of what it observes. Not for calling
     * in a JVM that should live.
     */
    public static final class Child {
        private Child() {
        }

        /**
         * Runs one path under one right; prints {@code step=} lines as it goes, {@code detail=} facts, and
         * {@code survived=} if it lives to restore its rights.
         *
         * @param args the path id and the rights' name
         */
        public static void main(String[] args) {
            String id = args[0];
            Rights rights = Rights.valueOf(args[1]);
            switch (id) {
                case "sigaltstack" -> signalStack(rights);
                case "rseq-area" -> rseqArea(rights);
                default -> throw new IllegalArgumentException("not a child kernel path: " + id);
            }
        }

        /**
         * The handler: enable every key (WRPKRU with eax = ecx = edx = 0: it must not touch its stack,
         * which the handler's initial PKRU denies), note that it ran, return; sigreturn restores the
         * interrupted PKRU from the frame.
         */
        private static byte[] handler(long flag) {
            byte[] code = new byte[] {
                0x31, (byte) 0xc9,                   // xor %ecx,%ecx
                0x31, (byte) 0xd2,                   // xor %edx,%edx
                0x31, (byte) 0xc0,                   // xor %eax,%eax
                0x0f, 0x01, (byte) 0xef,             // wrpkru
                0x48, (byte) 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, // movabs $flag,%rax
                (byte) 0xc7, 0x00, 0x01, 0x00, 0x00, 0x00, // movl $1,(%rax)
                (byte) 0xc3,                         // ret
            };
            for (int i = 0; i < 8; i++) {
                code[11 + i] = (byte) (flag >>> (8 * i));
            }
            return code;
        }

        private static void signalStack(Rights rights) {
            long pageSize = Pages.size();
            int stackPages = 4;
            Arena arena = Arena.global();
            MemorySegment flag = arena.allocate(8, 8);
            MemorySegment code = Pages.allocate(arena, 1);
            MemorySegment.copy(MemorySegment.ofArray(handler(flag.address())), 0, code, 0, handler(0).length);
            MemoryCalls.mprotect(code.address(), pageSize, MemoryCalls.PROT_READ | MemoryCalls.PROT_EXEC);
            MemorySegment stack = Pages.allocate(arena, stackPages);
            ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE);
            key.protect(stack, RW);
            MemorySegment ss = arena.allocate(KernelPathCalls.STACK_T);
            ss.set(JAVA_LONG, CStructs.offset(KernelPathCalls.STACK_T, "ss_sp"), stack.address());
            ss.set(JAVA_INT, CStructs.offset(KernelPathCalls.STACK_T, "ss_flags"), 0);
            ss.set(JAVA_LONG, CStructs.offset(KernelPathCalls.STACK_T, "ss_size"), stackPages * pageSize);
            MemorySegment act = arena.allocate(KernelPathCalls.SIGACTION);
            act.set(JAVA_LONG, CStructs.offset(KernelPathCalls.SIGACTION, "sa_handler"), code.address());
            act.set(JAVA_INT, CStructs.offset(KernelPathCalls.SIGACTION, "sa_flags"),
                    KernelPathCalls.SA_ONSTACK | KernelPathCalls.SA_SIGINFO);
            MemorySegment oldAct = arena.allocate(KernelPathCalls.SIGACTION);
            MemorySegment off = arena.allocate(KernelPathCalls.STACK_T);
            off.set(JAVA_INT, CStructs.offset(KernelPathCalls.STACK_T, "ss_flags"), KernelPathCalls.SS_DISABLE);
            ChildReport.put("detail", "key " + key.number() + ", alternate stack 0x" + Long.toHexString(stack.address()) + " ("
                    + stackPages + " pages), tid " + ThreadCalls.gettid());
            KernelPathCalls.sigaction(KernelPathCalls.SIGUSR1, act.address(), oldAct.address());
            KernelPathCalls.sigaltstack(ss.address(), 0);
            ChildReport.put("step", "alternate stack set");
            key.setRights(rights);
            ChildReport.put("step", "rights " + rights + ", raising SIGUSR1");
            ThreadCalls.tgkill(ThreadCalls.getpid(), ThreadCalls.gettid(), KernelPathCalls.SIGUSR1);
            key.setRights(Rights.READ_WRITE);
            ChildReport.put("step", "back from the handler");
            KernelPathCalls.sigaltstack(off.address(), 0);
            KernelPathCalls.sigaction(KernelPathCalls.SIGUSR1, oldAct.address(), 0);
            ChildReport.put("detail", "handler ran: " + (flag.get(JAVA_INT, 0) == 1));
            ChildReport.put("survived", (flag.get(JAVA_INT, 0) == 1));
        }

        private static void rseqArea(Rights rights) {
            Arena arena = Arena.global();
            MemorySegment page = Pages.allocate(arena, 1);
            ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE);
            key.protect(page, RW);
            ChildReport.put("detail", "key " + key.number() + ", struct rseq at 0x" + Long.toHexString(page.address()) + ", tid "
                    + ThreadCalls.gettid());
            RseqCalls.rseq(page.address(), 32, 0, RseqAbi.SIGNATURE_X86_64);
            ChildReport.put("step", "registered");
            ChildReport.put("detail", "cpu_id after registering " + page.get(JAVA_INT, RseqAbi.CPU_ID));
            key.setRights(rights);
            ChildReport.put("step", "rights " + rights + ", sleeping");
            // Sleeping switches to another task and back: the kernel updates struct rseq on the way back.
            for (int i = 0; i < 20; i++) {
                try {
                    Thread.sleep(5);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            key.setRights(Rights.READ_WRITE);
            ChildReport.put("step", "slept 20 times under " + rights);
            RseqCalls.rseq(page.address(), 32, RseqCalls.RSEQ_FLAG_UNREGISTER, RseqAbi.SIGNATURE_X86_64);
            ChildReport.put("survived", "true");
        }
    }
}
