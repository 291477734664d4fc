package dev.pkrseq.observe;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;

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

    private PerCpuStress() {
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
     * @param target what to add to
     * @param threads worker threads, at least 1
     * @param adds adds of 1 per thread, at least 1
     * @param disturb whether to run the disturber
     * @return what happened
     * @throws IllegalStateException when a worker's add threw; the first failure is the cause
     * @throws InterruptedException when interrupted while waiting; the workers finish their adds
     */
    public static Result run(Target target, int threads, long adds, boolean disturb) throws InterruptedException {
        if (threads < 1 || adds < 1) {
            throw new IllegalArgumentException("threads and adds must be at least 1: " + threads + ", " + adds);
        }
        long expected = Math.multiplyExact(threads, adds);
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        boolean cpuTime = mx.isCurrentThreadCpuTimeSupported();
        int[] tids = new int[threads];
        long[] cpuNanos = new long[threads];
        CountDownLatch ready = new CountDownLatch(threads);
        CountDownLatch go = new CountDownLatch(1);
        CountDownLatch done = new CountDownLatch(threads);
        CountDownLatch release = new CountDownLatch(1);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        long sumBefore = target.sum();
        long restartsBefore = target.restarts();
        Thread[] workers = new Thread[threads];
        for (int i = 0; i < threads; i++) {
            int index = i;
            workers[i] = Thread.ofPlatform().name("pkrseq-percpu-" + i).daemon(true).start(() -> {
                tids[index] = Sys.gettid();
                ready.countDown();
                try {
                    go.await();
                    long c0 = cpuTime ? mx.getCurrentThreadCpuTime() : System.nanoTime();
                    for (long k = 0; k < adds; k++) {
                        target.increment();
                    }
                    cpuNanos[index] = (cpuTime ? mx.getCurrentThreadCpuTime() : System.nanoTime()) - c0;
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                } finally {
                    done.countDown();
                }
                // Stay alive (and keep this tid ours) until the disturber has let go of it.
                Uninterruptibly.run(release::await);
            });
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
            go.countDown();
            done.await();
            elapsed = System.nanoTime() - start;
        } finally {
            // On every path: let the workers run to the end, stop the disturber, then let the workers go.
            go.countDown();
            Uninterruptibly.run(done::await);
            if (disturber != null) {
                Uninterruptibly.run(disturber.thread::join);
            }
            release.countDown();
        }
        for (Thread w : workers) {
            w.join();
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
