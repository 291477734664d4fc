package dev.pkrseq.lab.rseq;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.IntToLongFunction;
import java.util.function.LongSupplier;
import java.util.function.ObjLongConsumer;

import dev.pkrseq.UnavailableException;
import dev.pkrseq.lab.ChildJvm;
import dev.pkrseq.lab.ChildReport;
import dev.pkrseq.lab.internal.Uninterruptibly;
import dev.pkrseq.rseq.DelayInjection;
import dev.pkrseq.rseq.Owner;
import dev.pkrseq.rseq.PerCpuOps;
import dev.pkrseq.rseq.PerCpuPool;
import dev.pkrseq.rseq.Rseq;
import dev.pkrseq.rseq.RseqFence;
import dev.pkrseq.rseq.percpu.PerCpuItemRing;
import dev.pkrseq.rseq.percpu.PerCpuList;
import dev.pkrseq.rseq.percpu.PerCpuRing;
import dev.pkrseq.rseq.percpu.PerCpuSpinlock;
import dev.pkrseq.sys.ThreadCalls;

/**
 * The kernel's rseq {@code param_test} (tools/testing/selftests/rseq/param_test.c), from Java, on pkrseq's
 * primitives and structures: the engine of {@code pkrseq paramtest} and of its tests.
 *
 * <p>Test types, each run by {@code threads} platform threads × {@code reps} repetitions, and each checked
 * for exactness afterwards:
 * <ul>
 *   <li>{@code s}, spinlock: {@link PerCpuSpinlock}; under the lock each thread increments its CPU's count;
 *       the counts sum to threads × reps, and no lock is left held;</li>
 *   <li>{@code l}, list: {@link PerCpuList} with 100 nodes per allowed CPU; each repetition pops a node and
 *       pushes it back ({@link PerCpuList#pushCompareAndStore}, param_test's push); afterwards every node is
 *       there once and their values sum as at the start;</li>
 *   <li>{@code b}, buffer: {@link PerCpuRing} of node pointers, the same way;</li>
 *   <li>{@code m}, memcpy buffer: {@link PerCpuItemRing} of 16-byte items copied in and out;</li>
 *   <li>{@code i}, increment: {@link PerCpuOps#add} on one per-CPU word; the copies sum to threads × reps;</li>
 *   <li>{@code r}, membarrier: two per-CPU lists of one counter each; the workers
 *       {@link PerCpuOps#addIndirect} through a shared pointer to the active list; a manager thread keeps
 *       swapping the pointer, fences the CPU whose list it just made inactive ({@link RseqFence}: all CPUs
 *       under mm_cid), reads that CPU's counter, waits {@link #SETTLE_MICROS} µs, and checks that it did not
 *       change. Also: the counters sum to threads × reps.</li>
 * </ul>
 *
 * <p>Delay injection as param_test's: points 1 to 6 are spin loops compiled into the sections
 * ({@link DelayInjection}); point 9 runs in Java before every section (param_test's
 * {@code RSEQ_INJECT_C(9)}), a spin of that many {@link Thread#onSpinWait()}, or with {@code -1} and
 * {@code -m N}, every N-th time, a {@code sched_yield} ({@code -y}), a signal to the thread itself
 * ({@code -k}) or a sleep ({@code -s ms}). Points 7 and 8 are accepted and, as in today's param_test (whose
 * helpers place only point 9), inject nothing. {@code -y} also yields between a pop and its push, as
 * param_test does. The signal is SIGUSR2 sent with {@code tgkill}: HotSpot's suspend/resume signal, which a
 * running thread that nobody asked to suspend ignores, and which interrupts a critical section as any
 * signal does (param_test raises SIGUSR1 with a handler of its own; a JVM has none for it).
 *
 * <p>mm_cid ({@code --mm-cid}) needs pkrseq's own registration where glibc's does not cover mm_cid (glibc
 * 2.35 to 2.40): {@link #run} then runs the test in a child JVM started with
 * {@code GLIBC_TUNABLES=glibc.pthread.rseq=0}, and says so in {@link Result#where()}.
 */
public final class ParamTest {
    /** How long the membarrier manager keeps a list inactive before it checks the counter it read. */
    public static final long SETTLE_MICROS = 200;
    /** Nodes (or items) per allowed CPU in the list and buffer tests, as param_test's. */
    public static final int PER_CPU = 100;
    private static final VarHandle WORD = JAVA_LONG.varHandle();
    private static final String PREFIX = "paramtest.";

    /** param_test's test types. */
    public enum Type {
        /** {@code -T s}. */
        SPINLOCK('s', "spinlock"),
        /** {@code -T l}. */
        LIST('l', "list"),
        /** {@code -T b}. */
        BUFFER('b', "buffer"),
        /** {@code -T m}. */
        MEMCPY('m', "memcpy buffer"),
        /** {@code -T i}. */
        INCREMENT('i', "increment"),
        /** {@code -T r}. */
        MEMBARRIER('r', "membarrier");

        private final char letter;
        private final String title;

        Type(char letter, String title) {
            this.letter = letter;
            this.title = title;
        }

        /**
         * The option letter.
         *
         * @return for example {@code 's'}
         */
        public char letter() {
            return letter;
        }

        /**
         * The name param_test prints.
         *
         * @return for example "spinlock"
         */
        public String title() {
            return title;
        }

        /**
         * The type of an option letter.
         *
         * @param letter s, l, b, m, i or r
         * @return the type
         * @throws IllegalArgumentException for another letter
         */
        public static Type of(char letter) {
            for (Type t : values()) {
                if (t.letter == letter) {
                    return t;
                }
            }
            throw new IllegalArgumentException("no test type '" + letter + "': choose s (spinlock), l (list), b (buffer), m"
                    + " (memcpy buffer), i (increment) or r (membarrier)");
        }

        @Override
        public String toString() {
            return String.valueOf(letter);
        }
    }

    /**
     * What to run, with param_test's options.
     *
     * @param type {@code -T}
     * @param threads {@code -t}, at least 1
     * @param reps {@code -r}, repetitions per thread, at least 1
     * @param loops {@code -1} to {@code -9}: index 1 to 9 (index 0 unused); points 1-6 at least 0, 7-9 at
     *     least -1
     * @param modulo {@code -m}: every how many point-9 visits with -1 loops to yield, signal or sleep; 0 never
     * @param yield {@code -y}
     * @param signal {@code -k}
     * @param sleepMillis {@code -s}, 0 for none
     * @param mmCid index by mm_cid instead of cpu_id
     * @param release {@code -M}: release order for the buffers' offers
     */
    public record Options(Type type, int threads, long reps, int[] loops, int modulo, boolean yield, boolean signal,
            int sleepMillis, boolean mmCid, boolean release) {
        /**
         * Checks the options.
         *
         * @throws IllegalArgumentException for a value param_test would refuse
         */
        public Options {
            if (threads < 1 || threads > 4096) {
                throw new IllegalArgumentException("-t must be 1 to 4096, not " + threads);
            }
            if (reps < 1) {
                throw new IllegalArgumentException("-r must be at least 1, not " + reps);
            }
            if (loops.length != 10) {
                throw new IllegalArgumentException("loops holds points 1 to 9 at index 1 to 9");
            }
            loops = loops.clone();
            for (int p = 1; p <= 9; p++) {
                if (loops[p] < (p <= DelayInjection.POINTS ? 0 : -1)) {
                    throw new IllegalArgumentException("-" + p + " must be " + (p <= DelayInjection.POINTS ? "0 or more"
                            : "-1 (with -m) or more") + ", not " + loops[p]);
                }
            }
            if (modulo < 0) {
                throw new IllegalArgumentException("-m must be 0 or more, not " + modulo);
            }
            if (sleepMillis < 0) {
                throw new IllegalArgumentException("-s must be 0 or more, not " + sleepMillis);
            }
            if (reps > Long.MAX_VALUE / threads) {
                throw new IllegalArgumentException("-t " + threads + " × -r " + reps + " overflows a long");
            }
        }

        /**
         * param_test's defaults for a type: 200 threads, 5000 repetitions, no injection.
         *
         * @param type the test
         * @return the options
         */
        public static Options of(Type type) {
            return new Options(type, 200, 5000, new int[10], 0, false, false, 0, false, false);
        }

        /**
         * The loop count of one injection point.
         *
         * @param point 1 to 9
         * @return loops
         */
        public int loops(int point) {
            return loops[point];
        }

        /**
         * The loop counts of the injection points, a copy (index 0 unused).
         *
         * @return loops by point
         */
        @Override
        public int[] loops() {
            return loops.clone();
        }

        /**
         * The points compiled into the code.
         *
         * @return points 1 to 6
         */
        public DelayInjection asmDelays() {
            int[] l = new int[DelayInjection.POINTS];
            System.arraycopy(loops, 1, l, 0, DelayInjection.POINTS);
            return new DelayInjection(l);
        }

        /**
         * Whether the run needs code of its own (injected delays, or Java before each section).
         *
         * @return true when a point is set
         */
        public boolean injects() {
            return asmDelays().any() || loops[9] != 0;
        }

        /**
         * The options as {@code pkrseq paramtest} takes them.
         *
         * @return the arguments
         */
        public List<String> toArgs() {
            List<String> a = new ArrayList<>(List.of("-T", type.toString(), "-t", Integer.toString(threads), "-r",
                    Long.toString(reps)));
            for (int p = 1; p <= 9; p++) {
                addIf(a, loops[p] != 0, "-" + p, Integer.toString(loops[p]));
            }
            addIf(a, modulo != 0, "-m", Integer.toString(modulo));
            addIf(a, yield, "-y");
            addIf(a, signal, "-k");
            addIf(a, sleepMillis != 0, "-s", Integer.toString(sleepMillis));
            addIf(a, mmCid, "--mm-cid");
            addIf(a, release, "-M");
            return a;
        }

        /** Leaves out an option whose value is the default, as param_test's own command lines do. */
        private static void addIf(List<String> args, boolean set, String... option) {
            if (set) {
                args.addAll(List.of(option));
            }
        }

        /**
         * Parses {@link #toArgs()}'s form (the child JVM's command line).
         *
         * @param args the arguments
         * @return the options
         */
        public static Options parse(List<String> args) {
            Type type = Type.SPINLOCK;
            int threads = 200;
            long reps = 5000;
            int[] loops = new int[10];
            int modulo = 0;
            int sleep = 0;
            boolean yield = false;
            boolean signal = false;
            boolean mmCid = false;
            boolean release = false;
            for (int i = 0; i < args.size(); i++) {
                String a = args.get(i);
                switch (a) {
                    case "-T" -> type = Type.of(args.get(++i).charAt(0));
                    case "-t" -> threads = Integer.parseInt(args.get(++i));
                    case "-r" -> reps = Long.parseLong(args.get(++i));
                    case "-m" -> modulo = Integer.parseInt(args.get(++i));
                    case "-s" -> sleep = Integer.parseInt(args.get(++i));
                    case "-y" -> yield = true;
                    case "-k" -> signal = true;
                    case "--mm-cid" -> mmCid = true;
                    case "-M" -> release = true;
                    default -> {
                        if (a.length() == 2 && a.charAt(1) >= '1' && a.charAt(1) <= '9') {
                            loops[a.charAt(1) - '0'] = Integer.parseInt(args.get(++i));
                        } else {
                            throw new IllegalArgumentException("unknown option " + a);
                        }
                    }
                }
            }
            return new Options(type, threads, reps, loops, modulo, yield, signal, sleep, mmCid, release);
        }
    }

    /**
     * One check the run made.
     *
     * @param name what was compared
     * @param expected the value it must have
     * @param actual the value it had
     */
    public record Check(String name, long expected, long actual) {
        /**
         * Whether the check held.
         *
         * @return expected == actual
         */
        public boolean held() {
            return expected == actual;
        }
    }

    /**
     * What a run saw.
     *
     * @param type the test
     * @param threads worker threads
     * @param reps repetitions per thread
     * @param index "cpu_id" or "mm_cid"
     * @param owner whose registration the sections used: "glibc" or "pkrseq"
     * @param delays the injected delays, as options ({@code -3 1000 -9 -1}), or "none"
     * @param modulo {@code -m}
     * @param yield {@code -y}
     * @param signal {@code -k}
     * @param sleepMillis {@code -s}
     * @param checks every check, in order
     * @param exact true only when every check held
     * @param restarts critical sections the kernel aborted and the structures made again
     * @param yields sched_yield calls injected
     * @param signals signals sent
     * @param sleeps sleeps injected
     * @param fences rseq fences the membarrier manager made (0 for other types)
     * @param elapsedMillis wall time of the workers
     * @param where "this JVM", or the child JVM and why
     */
    public record Result(String type, int threads, long reps, String index, String owner, String delays, int modulo,
            boolean yield, boolean signal, int sleepMillis, List<Check> checks, boolean exact, long restarts, long yields,
            long signals, long sleeps, long fences, double elapsedMillis, String where) {
    }

    /**
     * param_test's point 9 in Java: before every section, a spin of {@code loops[9]} or, with -1 and
     * {@code -m N}, every N-th time on each thread, a yield, a signal or a sleep. It counts what it did.
     */
    public static final class Injector implements Runnable {
        private final int loops;
        private final int modulo;
        private final boolean yield;
        private final boolean signal;
        private final int sleepMillis;
        private final ThreadLocal<int[]> visits = ThreadLocal.withInitial(() -> new int[1]);
        private final LongAdder yields = new LongAdder();
        private final LongAdder signals = new LongAdder();
        private final LongAdder sleeps = new LongAdder();

        /**
         * The injector of a run's options.
         *
         * @param o the options
         */
        public Injector(Options o) {
            this.loops = o.loops(9);
            this.modulo = o.modulo();
            this.yield = o.yield();
            this.signal = o.signal();
            this.sleepMillis = o.sleepMillis();
        }

        @Override
        public void run() {
            if (loops > 0) {
                for (int i = 0; i < loops; i++) {
                    Thread.onSpinWait();
                }
            } else if (loops == -1 && modulo > 0) {
                int[] v = visits.get();
                if (++v[0] < modulo) {
                    return;
                }
                v[0] = 0;
                act();
            }
        }

        /** What param_test does at a -1 point every modulo visits. */
        void act() {
            if (sleepMillis > 0) {
                try {
                    Thread.sleep(sleepMillis);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                sleeps.increment();
            }
            if (yield) {
                ThreadCalls.schedYield();
                yields.increment();
            }
            if (signal) {
                ThreadCalls.tgkill(ThreadCalls.getpid(), ThreadCalls.gettid(), ThreadCalls.SIGUSR2);
                signals.increment();
            }
        }

        void yieldBetween() {
            ThreadCalls.schedYield();
            yields.increment();
        }
    }

    private ParamTest() {
    }

    /**
     * Runs a test: in this JVM, or, for mm_cid where this JVM's registration does not cover it, in a child
     * JVM under pkrseq's own registration.
     *
     * @param o what to run
     * @return what it saw
     * @throws InterruptedException when interrupted while waiting for the workers (they finish first)
     * @throws UnavailableException where rseq critical sections cannot run at all
     */
    public static Result run(Options o) throws InterruptedException {
        PerCpuOps.Index index = o.mmCid() ? PerCpuOps.Index.MM_CID : PerCpuOps.Index.CPU_ID;
        if (o.mmCid() && PerCpuOps.whyUnavailable(index).isPresent() && Rseq.owner() == Owner.GLIBC
                && PerCpuOps.whyUnavailable(PerCpuOps.Index.CPU_ID).isEmpty()) {
            return inChild(o);
        }
        Injector injector = new Injector(o);
        PerCpuOps ops = o.injects() ? PerCpuOps.of(index, PerCpuOps.DEFAULT_STRIDE, o.asmDelays(), injector)
                : PerCpuOps.of(index);
        return runWith(o, ops, injector, true);
    }

    /**
     * Runs a test in this JVM with primitives built elsewhere: the same checks, whatever code the
     * primitives run (tests give it code without rseq, to see the checks fail).
     *
     * @param o what to run (its delays are the ones {@code ops} was built with)
     * @param ops the primitives
     * @param injector point 9 and the -y/-k/-s actions ({@code ops} runs it before each section)
     * @param fence whether the membarrier manager fences (always, except to see what happens without)
     * @return what it saw
     * @throws InterruptedException when interrupted while waiting for the workers
     */
    public static Result runWith(Options o, PerCpuOps ops, Injector injector, boolean fence) throws InterruptedException {
        Run run = switch (o.type()) {
            case SPINLOCK -> new SpinlockRun(o, ops);
            case LIST -> new ListRun(o, ops);
            case BUFFER -> new BufferRun(o, ops);
            case MEMCPY -> new MemcpyRun(o, ops);
            case INCREMENT -> new IncrementRun(o, ops);
            case MEMBARRIER -> new MembarrierRun(o, ops, fence);
        };
        long elapsed = run.workers(o, injector);
        List<Check> checks = run.checks();
        boolean exact = !checks.isEmpty() && checks.stream().allMatch(Check::held);
        String delays = describeDelays(o);
        return new Result(o.type().toString(), o.threads(), o.reps(), o.mmCid() ? "mm_cid" : "cpu_id",
                ops.owner().toString(), delays, o.modulo(), o.yield(), o.signal(), o.sleepMillis(), checks, exact,
                run.restarts(), injector.yields.sum(), injector.signals.sum(), injector.sleeps.sum(), run.fences(),
                Math.round(elapsed / 10_000.0) / 100.0, "this JVM");
    }

    private static String describeDelays(Options o) {
        StringBuilder sb = new StringBuilder();
        for (int p = 1; p <= 9; p++) {
            if (o.loops(p) != 0) {
                sb.append(sb.isEmpty() ? "" : " ").append('-').append(p).append(' ').append(o.loops(p));
            }
        }
        return sb.isEmpty() ? "none" : sb.toString();
    }

    // ---- The child JVM ------------------------------------------------------------------------------

    private static Result inChild(Options o) {
        String tunables = RseqExperiments.tunablesWithGlibcRseqOff();
        ChildJvm.Result r = ChildJvm.of(ParamTestChild.class).env("GLIBC_TUNABLES", tunables)
                .timeout(java.time.Duration.ofMinutes(30)).args(o.toArgs().toArray(String[]::new)).run();
        if (r.exitCode() != 0 || r.values(PREFIX + "exact=").isEmpty()) {
            throw new IllegalStateException("the param test's child JVM (GLIBC_TUNABLES=" + tunables + ") failed with exit "
                    + r.exitCode() + ": " + (r.stderr().isBlank() ? r.stdout().strip() : r.stderr().strip()));
        }
        return fromLines(r, "a child JVM with GLIBC_TUNABLES=" + tunables + ": mm_cid needs pkrseq's own registration, "
                + "and glibc's here (__rseq_size " + Rseq.glibcSize() + ") does not cover it");
    }

    /** Reports a result to the parent JVM through {@link ChildReport}, under {@code keyPrefix + "paramtest."}. */
    static void report(Result r, String keyPrefix) {
        String p = keyPrefix + PREFIX;
        put(p, "type", r.type(), "threads", r.threads(), "reps", r.reps(), "index", r.index(), "owner", r.owner(),
                "delays", r.delays(), "modulo", r.modulo(), "yield", r.yield(), "signal", r.signal(), "sleep",
                r.sleepMillis());
        for (Check c : r.checks()) {
            ChildReport.put(p + "check", c.expected() + "\t" + c.actual() + "\t" + c.name());
        }
        put(p, "restarts", r.restarts(), "yields", r.yields(), "signals", r.signals(), "sleeps", r.sleeps(), "fences",
                r.fences(), "elapsed", r.elapsedMillis(), "exact", r.exact());
    }

    private static void put(String prefix, Object... keysAndValues) {
        for (int i = 0; i < keysAndValues.length; i += 2) {
            ChildReport.put(prefix + keysAndValues[i], keysAndValues[i + 1]);
        }
    }

    private static Result fromLines(ChildJvm.Result r, String where) {
        List<Check> checks = new ArrayList<>();
        for (String c : r.values(PREFIX + "check=")) {
            String[] f = c.split("\t", 3);
            checks.add(new Check(f[2], Long.parseLong(f[0]), Long.parseLong(f[1])));
        }
        return new Result(r.value(PREFIX + "type="), Integer.parseInt(r.value(PREFIX + "threads=")),
                Long.parseLong(r.value(PREFIX + "reps=")), r.value(PREFIX + "index="), r.value(PREFIX + "owner="),
                r.value(PREFIX + "delays="), Integer.parseInt(r.value(PREFIX + "modulo=")),
                Boolean.parseBoolean(r.value(PREFIX + "yield=")), Boolean.parseBoolean(r.value(PREFIX + "signal=")),
                Integer.parseInt(r.value(PREFIX + "sleep=")), List.copyOf(checks),
                Boolean.parseBoolean(r.value(PREFIX + "exact=")), Long.parseLong(r.value(PREFIX + "restarts=")),
                Long.parseLong(r.value(PREFIX + "yields=")), Long.parseLong(r.value(PREFIX + "signals=")),
                Long.parseLong(r.value(PREFIX + "sleeps=")), Long.parseLong(r.value(PREFIX + "fences=")),
                Double.parseDouble(r.value(PREFIX + "elapsed=")), where);
    }

    // ---- The runs -----------------------------------------------------------------------------------

    /** One test type: its data, the work of one repetition, and the checks afterwards. */
    private abstract static class Run {
        final Options o;
        final PerCpuOps ops;
        final long stride;
        final int slots;
        /** Sections the kernel aborted, for runs that call the primitives themselves ({@link #untilDone}). */
        final LongAdder restarts = new LongAdder();

        Run(Options o, PerCpuOps ops) {
            this.o = o;
            this.ops = ops;
            this.stride = ops.stride();
            this.slots = ops.slots();
        }

        /** One repetition on a worker thread. */
        abstract void rep(Injector injector, Worker w);

        abstract List<Check> checks();

        /** Sections the kernel aborted and the run made again. */
        long restarts() {
            return restarts.sum();
        }

        /** Runs a section until it commits, counting the aborts; any other failure ends the worker. */
        void untilDone(String primitive, LongSupplier section) {
            for (;;) {
                long r = section.getAsLong();
                if (r >= 0) {
                    return;
                }
                if (PerCpuOps.status(r) != PerCpuOps.Status.ABORTED) {
                    throw new IllegalStateException(primitive + ": " + PerCpuOps.status(r));
                }
                restarts.increment();
            }
        }

        long fences() {
            return 0;
        }

        /** Called on the starting thread once the workers run, until they are done (the membarrier manager). */
        void meanwhile(CountDownLatch done) throws InterruptedException {
            done.await();
        }

        /** Starts the workers together, waits for them, returns the elapsed nanoseconds. */
        long workers(Options opt, Injector injector) throws InterruptedException {
            int n = opt.threads();
            CountDownLatch ready = new CountDownLatch(n);
            CountDownLatch go = new CountDownLatch(1);
            CountDownLatch done = new CountDownLatch(n);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread[] threads = new Thread[n];
            for (int i = 0; i < n; i++) {
                threads[i] = Thread.ofPlatform().name("pkrseq-paramtest-" + i).daemon(true).start(() -> {
                    Worker w = new Worker();
                    ready.countDown();
                    try {
                        go.await();
                        for (long k = 0; k < opt.reps() && failure.get() == null; k++) {
                            rep(injector, w);
                        }
                    } catch (Throwable t) {
                        failure.compareAndSet(null, t);
                    } finally {
                        w.close();
                        done.countDown();
                    }
                });
            }
            long start;
            try {
                ready.await();
                start = System.nanoTime();
                go.countDown();
                meanwhile(done);
            } finally {
                go.countDown();
                Uninterruptibly.run(done::await);
                for (Thread t : threads) {
                    Uninterruptibly.run(t::join);
                }
            }
            long elapsed = System.nanoTime() - start;
            Throwable f = failure.get();
            if (f != null) {
                throw new IllegalStateException("a param test worker failed: " + f, f);
            }
            return elapsed;
        }

        long sumWords(MemorySegment percpu) {
            long s = 0;
            for (int c = 0; c < slots; c++) {
                s += (long) WORD.getVolatile(percpu, c * stride);
            }
            return s;
        }

        List<Integer> allowedCpus() {
            BitSet allowed = ThreadCalls.schedGetaffinity(0);
            List<Integer> cpus = new ArrayList<>();
            for (int c = allowed.nextSetBit(0); c >= 0 && c < slots; c = allowed.nextSetBit(c + 1)) {
                cpus.add(c);
            }
            return cpus;
        }
    }

    /** What a worker thread keeps: scratch memory, and its own registration to undo at the end. */
    private static final class Worker implements AutoCloseable {
        final Arena arena = Arena.ofConfined();
        final MemorySegment scratch = arena.allocate(64, 8);

        @Override
        public void close() {
            arena.close();
            if (!Thread.currentThread().isVirtual() && Rseq.owner() == Owner.PKRSEQ) {
                Rseq.unregister();
            }
        }
    }

    private static final class SpinlockRun extends Run {
        final PerCpuSpinlock lock;
        final MemorySegment counts;
        final LongAdder notHeld = new LongAdder();

        SpinlockRun(Options o, PerCpuOps ops) {
            super(o, ops);
            PerCpuPool pool = PerCpuPool.create(8, ops.stride());
            lock = new PerCpuSpinlock(ops, pool);
            counts = pool.allocate().percpu();
        }

        @Override
        void rep(Injector injector, Worker w) {
            int cpu = lock.lock();
            long at = cpu * stride;
            // Plain accesses: the lock is what makes this read-modify-write exclusive.
            WORD.set(counts, at, (long) WORD.get(counts, at) + 1);
            try {
                lock.unlock(cpu);
            } catch (IllegalStateException e) {
                // Two holders at once: possible only where the lock is broken (param_test asserts here).
                notHeld.increment();
            }
        }

        @Override
        List<Check> checks() {
            long held = 0;
            for (int c = 0; c < slots; c++) {
                held += lock.isLocked(c) ? 1 : 0;
            }
            return List.of(new Check("sum of the per-CPU counts", o.threads() * o.reps(), sumWords(counts)),
                    new Check("locks still held", 0, held), new Check("unlocks of a lock not held", 0, notHeld.sum()));
        }

        @Override
        long restarts() {
            return lock.restarts();
        }
    }

    private static final class IncrementRun extends Run {
        final MemorySegment counts;

        IncrementRun(Options o, PerCpuOps ops) {
            super(o, ops);
            counts = PerCpuPool.create(8, ops.stride()).allocate().percpu();
        }

        @Override
        void rep(Injector injector, Worker w) {
            untilDone("add", () -> ops.add(counts, 1));
        }

        @Override
        List<Check> checks() {
            return List.of(new Check("sum of the per-CPU counts", o.threads() * o.reps(), sumWords(counts)));
        }
    }

    /** Nodes of 16 bytes, {data, next}, for the list and buffer tests. */
    private abstract static class NodesRun extends Run {
        final MemorySegment nodes;
        final int count;
        final long expectedSum;
        final List<Integer> cpus;
        final LongAdder full = new LongAdder();

        NodesRun(Options o, PerCpuOps ops) {
            super(o, ops);
            cpus = allowedCpus();
            count = cpus.size() * PER_CPU;
            nodes = Arena.ofAuto().allocate(16L * Math.max(1, count), 16);
            long sum = 0;
            for (int i = 0; i < count; i++) {
                long data = i % PER_CPU + 1;
                nodes.set(JAVA_LONG, 16L * i, data);
                sum += data;
            }
            expectedSum = sum;
        }

        long node(int i) {
            return nodes.address() + 16L * i;
        }

        /** Puts {@link #PER_CPU} nodes on each allowed CPU's structure, before the workers start. */
        void fill(ObjLongConsumer<Integer> putQuiescent) {
            for (int i = 0; i < count; i++) {
                putQuiescent.accept(cpus.get(i / PER_CPU), node(i));
            }
        }

        /** Takes a node from the current CPU's structure: 0 when it is empty. */
        abstract long take();

        /** Puts a taken node back on the current CPU's structure: false when it is full. */
        abstract boolean putBack(long node);

        /** Takes a node and puts it back, as param_test's list and buffer tests do, yielding between with -y. */
        @Override
        void rep(Injector injector, Worker w) {
            long n = take();
            if (o.yield()) {
                injector.yieldBetween();
            }
            if (n != 0 && !putBack(n)) {
                full.increment();
            }
        }

        /** Sums the data of drained nodes, each counted once; a node drained twice or foreign counts as lost. */
        List<Check> drained(IntToLongFunction drainOne) {
            NodeCensus census = NodeCensus.drain(nodes, count, slots, drainOne);
            return List.of(new Check("sum of the nodes' values", expectedSum, census.sum()),
                    new Check("nodes found", count, census.found()), new Check("nodes found twice", 0, census.twice()));
        }
    }

    private static final class ListRun extends NodesRun {
        final PerCpuList list;

        ListRun(Options o, PerCpuOps ops) {
            super(o, ops);
            list = new PerCpuList(ops, PerCpuPool.create(8, ops.stride()), nodes, 8);
            fill(list::pushQuiescent);
        }

        @Override
        long take() {
            return list.pop();
        }

        @Override
        boolean putBack(long node) {
            // As param_test pushes: the head read first, then load_cbne_store.
            list.pushCompareAndStore(node);
            return true;
        }

        @Override
        List<Check> checks() {
            return drained(list::popQuiescent);
        }

        @Override
        long restarts() {
            return list.restarts();
        }
    }

    private static int capacityFor(int slots) {
        return Integer.highestOneBit(Math.max(1, slots * PER_CPU - 1)) << 1;
    }

    private static final class BufferRun extends NodesRun {
        final PerCpuRing ring;

        BufferRun(Options o, PerCpuOps ops) {
            super(o, ops);
            // Room for every node on one CPU: the worst case, as param_test sizes its buffers.
            int capacity = capacityFor(slots);
            ring = new PerCpuRing(ops, PerCpuPool.create(PerCpuRing.bytesPerCpu(capacity), ops.stride()), capacity,
                    o.release() ? PerCpuOps.Order.RELEASE : PerCpuOps.Order.RELAXED);
            fill(ring::offerQuiescent);
        }

        @Override
        long take() {
            return ring.poll();
        }

        @Override
        boolean putBack(long node) {
            return ring.offer(node);
        }

        @Override
        List<Check> checks() {
            List<Check> c = new ArrayList<>(drained(ring::pollQuiescent));
            c.add(new Check("offers that found the ring full", 0, full.sum()));
            return c;
        }

        @Override
        long restarts() {
            return ring.restarts();
        }
    }

    private static final class MemcpyRun extends Run {
        final PerCpuItemRing ring;
        final long expectedSum;
        final int count;
        final LongAdder full = new LongAdder();

        MemcpyRun(Options o, PerCpuOps ops) {
            super(o, ops);
            List<Integer> cpus = allowedCpus();
            count = cpus.size() * PER_CPU;
            int capacity = capacityFor(slots);
            ring = new PerCpuItemRing(ops, PerCpuPool.create(PerCpuItemRing.bytesPerCpu(capacity, 16), ops.stride()),
                    capacity, 16, o.release() ? PerCpuOps.Order.RELEASE : PerCpuOps.Order.RELAXED);
            long sum = 0;
            try (Arena a = Arena.ofConfined()) {
                MemorySegment item = a.allocate(16, 8);
                for (int i = 0; i < count; i++) {
                    long j = i % PER_CPU + 1;
                    item.set(JAVA_LONG, 0, j);
                    item.set(JAVA_LONG, 8, j + 1);
                    sum += 2 * j + 1;
                    ring.offerQuiescent(cpus.get(i / PER_CPU), item);
                }
            }
            expectedSum = sum;
        }

        @Override
        void rep(Injector injector, Worker w) {
            boolean got = ring.poll(w.scratch);
            if (o.yield()) {
                injector.yieldBetween();
            }
            if (got && !ring.offer(w.scratch)) {
                full.increment();
            }
        }

        @Override
        List<Check> checks() {
            long sum = 0;
            long found = 0;
            try (Arena a = Arena.ofConfined()) {
                MemorySegment item = a.allocate(16, 8);
                for (int c = 0; c < slots; c++) {
                    while (found <= count && ring.pollQuiescent(c, item)) {
                        sum += item.get(JAVA_LONG, 0) + item.get(JAVA_LONG, 8);
                        found++;
                    }
                }
            }
            return List.of(new Check("sum of the items' values", expectedSum, sum), new Check("items found", count, found),
                    new Check("offers that found the ring full", 0, full.sum()));
        }

        @Override
        long restarts() {
            return ring.restarts();
        }
    }

    private static final class MembarrierRun extends Run {
        final boolean fence;
        // Per CPU: list A's entry at +0, list B's at +8, each pointing at that CPU's node.
        final MemorySegment entries;
        // 2 × slots nodes of 16 bytes: A's for CPU c at c, B's at slots + c; the counter at +0.
        final MemorySegment nodes;
        // The shared pointer the workers follow: the address of CPU 0's entry of the active list.
        final MemorySegment active;
        final List<String> violations = Collections.synchronizedList(new ArrayList<>());
        long checksMade;
        long fenceCount;

        MembarrierRun(Options o, PerCpuOps ops, boolean fence) {
            super(o, ops);
            this.fence = fence;
            entries = PerCpuPool.create(16, ops.stride()).allocate().percpu();
            nodes = Arena.ofAuto().allocate(32L * slots, 16);
            for (int c = 0; c < slots; c++) {
                entries.set(JAVA_LONG, c * stride, nodes.address() + 16L * c);
                entries.set(JAVA_LONG, c * stride + 8, nodes.address() + 16L * (slots + c));
            }
            active = Arena.ofAuto().allocate(8, 8);
            WORD.setRelease(active, 0L, entries.address());
            if (fence) {
                RseqFence.ensureRegistered();
            }
        }

        @Override
        void rep(Injector injector, Worker w) {
            untilDone("addIndirect", () -> ops.addIndirect(active, 0, 1, entries, nodes));
        }

        long counter(int list, int cpu) {
            return (long) WORD.getAcquire(nodes, 16L * (list * slots + cpu));
        }

        /** The manager: param_test's, with a settle wait before each check. */
        @Override
        void meanwhile(CountDownLatch done) throws InterruptedException {
            SplittableRandom random = new SplittableRandom(42);
            long expectB = 0;
            int cpuB = 0;
            while (done.getCount() > 0) {
                int cpuA = random.nextInt(slots);
                check(1, cpuB, expectB);
                WORD.setRelease(active, 0L, entries.address() + 8);
                fence(cpuA);
                long expectA = counter(0, cpuA);
                settle();
                cpuB = random.nextInt(slots);
                check(0, cpuA, expectA);
                WORD.setRelease(active, 0L, entries.address());
                fence(cpuB);
                expectB = counter(1, cpuB);
                settle();
            }
            check(1, cpuB, expectB);
        }

        private void check(int list, int cpu, long expected) {
            checksMade++;
            long now = counter(list, cpu);
            if (now != expected) {
                violations.add("list " + (list == 0 ? "A" : "B") + " CPU " + cpu + ": " + expected + " -> " + now);
            }
        }

        private void fence(int cpu) {
            if (!fence) {
                return;
            }
            if (ops.index() == PerCpuOps.Index.MM_CID) {
                // The kernel cannot target an mm_cid: every CPU.
                RseqFence.fenceAll();
            } else {
                RseqFence.fence(cpu);
            }
            fenceCount++;
        }

        private static void settle() {
            long until = System.nanoTime() + SETTLE_MICROS * 1000;
            while (System.nanoTime() < until) {
                Thread.onSpinWait();
            }
        }

        @Override
        List<Check> checks() {
            long total = 0;
            for (int i = 0; i < 2 * slots; i++) {
                total += nodes.get(JAVA_LONG, 16L * i);
            }
            return List.of(new Check("sum of both lists' counters", o.threads() * o.reps(), total),
                    new Check("changes to the inactive list after the fence (of " + checksMade + " checks)", 0,
                            violations.size()));
        }

        @Override
        long fences() {
            return fenceCount;
        }
    }
}
