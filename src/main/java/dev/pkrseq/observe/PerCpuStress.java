package dev.pkrseq.observe;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

import dev.pkrseq.rseq.PerCpuCounter;
import dev.pkrseq.sys.NativeException;
import dev.pkrseq.sys.Sys;

/**
 * A stress run of a per-CPU counter, after the kernel's {@code param_test.c}: N platform threads each add
 * 1 M times, while a disturber thread keeps moving them between CPUs ({@code sched_setaffinity} of each
 * worker to one CPU, a different one each round) and calls {@code sched_yield}, so that migrations and
 * preemptions land inside critical sections. Afterwards the sum must be exactly N × M. The engine of
 * {@code pkrseq percpu} and of the counter's tests.
 *
 * <p>The disturber changes only the workers' affinity, never another thread's, and only while they are
 * alive: each worker, once done adding, waits until the disturber has stopped and restored its original
 * mask, so that no thread id the disturber names can have been reused by another thread meanwhile.
 */
public final class PerCpuStress {
    /** What the run adds to: a {@link PerCpuCounter}, or a deliberately broken stand-in in tests. */
    public interface Target {
        /** Adds 1 on the calling thread. */
        void increment();

        /**
         * The total.
         *
         * @return the sum of all adds so far
         */
        long sum();

        /**
         * Aborted and retried critical sections so far.
         *
         * @return restarts, 0 for a target without any
         */
        long restarts();
    }

    /**
     * What a run saw.
     *
     * @param threads worker threads
     * @param addsPerThread adds of 1 by each
     * @param expected threads × adds
     * @param sum the target's sum afterwards minus before
     * @param restarts the target's restarts during the run
     * @param elapsedNanos wall time from the start signal to the last worker done
     * @param cpuNanos the workers' CPU time, summed (wall time where the JVM cannot measure it)
     * @param disturbed whether the disturber ran
     * @param affinityChanges sched_setaffinity calls the disturber made
     * @param yields sched_yield calls the disturber made
     * @param cpus the CPUs the disturber moved the workers over
     */
    public record Result(int threads, long addsPerThread, long expected, long sum, long restarts, long elapsedNanos,
            long cpuNanos, boolean disturbed, long affinityChanges, long yields, List<Integer> cpus) {
        /**
         * Whether no add was lost or doubled.
         *
         * @return sum == expected
         */
        public boolean exact() {
            return sum == expected;
        }

        /**
         * CPU time per add, disturbance included.
         *
         * @return the workers' CPU time divided by the adds
         */
        public double nanosPerAdd() {
            return cpuNanos / (double) expected;
        }
    }

    /** The most worker threads a run starts, whatever the CPUs. */
    public static final int MAX_THREADS = 4096;
    /** The most worker threads a run starts per CPU it may run on. */
    public static final int MAX_THREADS_PER_CPU = 64;
    // A worker looks at the stop flag once per this many + 1 adds: a load and a branch, not per add.
    private static final long STOP_CHECK_MASK = 1023;
    /** The most adds a run makes in all (threads × adds): about a minute on two CPUs, disturbed. */
    public static final long MAX_TOTAL_ADDS = 10_000_000_000L;

    // True on the workers and the disturber: a run started from inside a run is refused.
    private static final ThreadLocal<Boolean> OWN_THREAD = ThreadLocal.withInitial(() -> false);

    private PerCpuStress() {
    }

    /**
     * The most worker threads {@link #run} accepts here: {@value #MAX_THREADS_PER_CPU} per CPU this thread
     * may run on, {@value #MAX_THREADS} at most. Each worker adds in Java (a critical downcall stays in
     * Java), so each safepoint, the last one at exit too, waits until the scheduler has given every busy
     * worker a CPU once; beyond that many per CPU, measured on two CPUs beside other load, Ctrl-C took
     * seconds (a minute at 512 per CPU) instead of well under one.
     *
     * @return 128 on two CPUs
     */
    public static int maxThreads() {
        int cpus = Math.max(1, Sys.schedGetaffinity(0).cardinality());
        return (int) Math.min(MAX_THREADS, (long) MAX_THREADS_PER_CPU * cpus);
    }

    /**
     * Checks a run's size before anything starts.
     *
     * @param threads worker threads
     * @param adds adds per thread
     * @throws IllegalArgumentException naming the limit the size exceeds
     */
    public static void checkSize(int threads, long adds) {
        int max = maxThreads();
        if (threads < 1 || threads > max) {
            throw new IllegalArgumentException("threads must be 1 to " + max + " here (" + maxThreadsReason() + "), not "
                    + threads);
        }
        if (adds < 1) {
            throw new IllegalArgumentException("adds must be at least 1, not " + adds);
        }
        if (adds > MAX_TOTAL_ADDS / threads) {
            throw new IllegalArgumentException(threads + " threads × " + adds + " adds is more than " + MAX_TOTAL_ADDS
                    + " adds in all, about a minute of work on two CPUs: make fewer");
        }
    }

    /**
     * Why {@link #maxThreads()} is what it is, for refusals.
     *
     * @return for example "64 per CPU this process may run on, 2 CPUs: with more busy threads the JVM would
     *     take seconds to stop at Ctrl-C"
     */
    public static String maxThreadsReason() {
        int cpus = Math.max(1, Sys.schedGetaffinity(0).cardinality());
        return (maxThreads() == MAX_THREADS ? MAX_THREADS + " at most" : MAX_THREADS_PER_CPU + " per CPU this process may"
                + " run on, " + cpus + (cpus == 1 ? " CPU" : " CPUs")) + ": with more busy threads the JVM would take"
                + " seconds to stop at Ctrl-C";
    }

    /**
     * A counter as a target.
     *
     * @param counter the counter
     * @return a target that increments it
     */
    public static Target of(PerCpuCounter counter) {
        return new Target() {
            @Override
            public void increment() {
                counter.increment();
            }

            @Override
            public long sum() {
                return counter.sum();
            }

            @Override
            public long restarts() {
                return counter.restarts();
            }
        };
    }

    /**
     * Runs the stress: starts the workers (and the disturber), waits for them, and reports.
     *
     * <p>The workers are created first and wait; then this thread wakes each one itself, so that they start
     * adding together. (Released through a latch, each woken worker would wake the next, and behind workers
     * already adding each such wake-up waits a scheduling round: time quadratic in the thread count.)
     *
     * @param target what to add to
     * <p>The workers run under {@code SCHED_IDLE}, the lowest scheduling policy, so that the JVM's own
     * threads keep the CPU they need (its signal handler among them). A shutdown of the JVM during the run
     * stops the adds; the run then throws instead of reporting a partial sum.
     *
     * @param threads worker threads, 1 to {@link #maxThreads()}
     * @param adds adds of 1 per thread, at least 1, and at most {@value #MAX_TOTAL_ADDS} in all
     * @param disturb whether to run the disturber
     * @return what happened
     * @throws IllegalArgumentException for a size out of range ({@link #checkSize}), before any thread starts
     * @throws IllegalStateException when a worker's add threw (the first failure is the cause), a thread
     *     could not be created (the process's thread limit), or the JVM began to shut down; the workers
     *     started are ended first
     * @throws InterruptedException when interrupted while waiting; the workers finish their adds
     */
    public static Result run(Target target, int threads, long adds, boolean disturb) throws InterruptedException {
        checkSize(threads, adds);
        Objects.requireNonNull(target, "target");
        if (OWN_THREAD.get()) {
            throw new IllegalStateException("PerCpuStress.run refused on thread '" + Thread.currentThread().getName()
                    + "', one of a run's own threads (a target's increment() started another run): each nested run"
                    + " would start its threads from every worker of the one around it; start runs one after another");
        }
        long expected = threads * adds;
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        boolean cpuTime = mx.isCurrentThreadCpuTimeSupported();
        int[] tids = new int[threads];
        long[] cpuNanos = new long[threads];
        CountDownLatch ready = new CountDownLatch(threads);
        Go go = new Go();
        // SIGINT, SIGTERM: stop adding, so that the JVM's last safepoint waits for no busy worker.
        Thread hook = new Thread(() -> go.stopped = true, "pkrseq-percpu-stop");
        try {
            Runtime.getRuntime().addShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            throw new IllegalStateException("not started: this JVM is shutting down", shuttingDown);
        }
        CountDownLatch done = new CountDownLatch(threads);
        CountDownLatch release = new CountDownLatch(1);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        long sumBefore = target.sum();
        long restartsBefore = target.restarts();
        Thread[] workers = new Thread[threads];
        for (int i = 0; i < threads; i++) {
            int index = i;
            try {
                workers[i] = Thread.ofPlatform().name("pkrseq-percpu-" + i).daemon(true).start(() -> {
                    OWN_THREAD.set(true);
                    tids[index] = Sys.gettid();
                    lowerPriority();
                    ready.countDown();
                    try {
                        go.await();
                        if (!go.cancelled) {
                            long c0 = cpuTime ? mx.getCurrentThreadCpuTime() : System.nanoTime();
                            for (long k = 0; k < adds; k++) {
                                target.increment();
                                if ((k & STOP_CHECK_MASK) == 0 && go.stopped) {
                                    break;
                                }
                            }
                            cpuNanos[index] = (cpuTime ? mx.getCurrentThreadCpuTime() : System.nanoTime()) - c0;
                        }
                    } catch (Throwable t) {
                        failure.compareAndSet(null, t);
                    } finally {
                        done.countDown();
                    }
                    // Stay alive (and keep this tid ours) until the disturber has let go of it.
                    Uninterruptibly.run(release::await);
                });
            } catch (OutOfMemoryError e) {
                // The ones started wait for go: let them end without adding, and wait for them.
                go.cancelled = true;
                Thread[] started = Arrays.copyOf(workers, i);
                go.open(started);
                release.countDown();
                for (Thread w : started) {
                    Uninterruptibly.run(w::join);
                }
                throw new IllegalStateException("could start only " + i + " of " + threads + " threads: " + e.getMessage()
                        + " (the process's thread limit, ulimit -u or the cgroup's pids.max, or memory for their stacks)",
                        e);
            }
        }
        Disturber disturber = null;
        List<Integer> cpus = List.of();
        long elapsed;
        try {
            ready.await();
            cpus = Sys.schedGetaffinity(0).stream().boxed().toList();
            if (disturb) {
                disturber = new Disturber(tids, cpus, done);
                disturber.thread.start();
            }
            long start = System.nanoTime();
            go.open(workers);
            done.await();
            elapsed = System.nanoTime() - start;
        } finally {
            // On every path: let the workers run to the end, stop the disturber, then let the workers go.
            go.open(workers);
            Uninterruptibly.run(done::await);
            if (disturber != null) {
                Uninterruptibly.run(disturber.thread::join);
            }
            release.countDown();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // The hook has run or runs now.
            }
        }
        for (Thread w : workers) {
            w.join();
        }
        if (go.stopped) {
            throw new IllegalStateException("the run was stopped: this JVM is shutting down (SIGINT, SIGTERM, SIGHUP or"
                    + " System.exit)");
        }
        if (disturber != null && disturber.failure != null) {
            throw new IllegalStateException("the disturber failed: " + disturber.failure.getMessage(), disturber.failure);
        }
        Throwable f = failure.get();
        if (f != null) {
            throw new IllegalStateException("a worker's add failed: " + f.getMessage(), f);
        }
        long cpu = 0;
        for (long c : cpuNanos) {
            cpu += c;
        }
        return new Result(threads, adds, expected, target.sum() - sumBefore, target.restarts() - restartsBefore, elapsed,
                cpu, disturb, disturber == null ? 0 : disturber.changes, disturber == null ? 0 : disturber.yields, cpus);
    }

    /** Lets the waiting workers go: this thread wakes each one itself. */
    private static final class Go {
        private volatile boolean open;
        // Set by the shutdown hook: the workers stop adding.
        volatile boolean stopped;
        // Set before open when the run is given up: the workers end without adding.
        volatile boolean cancelled;

        void open(Thread[] workers) {
            open = true;
            for (Thread w : workers) {
                LockSupport.unpark(w);
            }
        }

        void await() {
            while (!open) {
                LockSupport.park(this);
            }
        }
    }

    private static void lowerPriority() {
        try {
            Sys.schedSetscheduler(0, Sys.SCHED_IDLE, 0);
        } catch (NativeException e) {
            // Any thread may take SCHED_IDLE for itself; should a policy refuse it, the run still counts.
        }
    }

    /** Moves every worker to one CPU, a different one each round, and yields, until all are done. */
    private static final class Disturber implements Runnable {
        final Thread thread;
        private final int[] tids;
        private final List<Integer> cpus;
        private final CountDownLatch done;
        long changes;
        long yields;
        RuntimeException failure;

        Disturber(int[] tids, List<Integer> cpus, CountDownLatch done) {
            this.tids = tids;
            this.cpus = cpus;
            this.done = done;
            this.thread = Thread.ofPlatform().name("pkrseq-percpu-disturber").daemon(true).unstarted(this);
        }

        @Override
        public void run() {
            BitSet[] original = new BitSet[tids.length];
            BitSet[] one = new BitSet[cpus.size()];
            for (int c = 0; c < one.length; c++) {
                one[c] = new BitSet();
                one[c].set(cpus.get(c));
            }
            try {
                for (int i = 0; i < tids.length; i++) {
                    original[i] = Sys.schedGetaffinity(tids[i]);
                }
                for (int round = 0; done.getCount() > 0; round++) {
                    for (int i = 0; i < tids.length; i++) {
                        Sys.schedSetaffinity(tids[i], one[(round + i) % one.length]);
                        changes++;
                    }
                    Sys.schedYield();
                    yields++;
                }
            } catch (NativeException e) {
                failure = e;
            } finally {
                for (int i = 0; i < tids.length; i++) {
                    if (original[i] != null) {
                        try {
                            Sys.schedSetaffinity(tids[i], original[i]);
                        } catch (NativeException e) {
                            if (failure == null) {
                                failure = e;
                            }
                        }
                    }
                }
            }
        }
    }
}
