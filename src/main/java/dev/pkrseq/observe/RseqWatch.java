package dev.pkrseq.observe;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import dev.pkrseq.rseq.Owner;
import dev.pkrseq.rseq.Rseq;
import dev.pkrseq.rseq.RseqArea;
import dev.pkrseq.rseq.RseqAreaGoneException;
import dev.pkrseq.rseq.RseqSample;
import dev.pkrseq.rseq.RseqView;
import dev.pkrseq.sys.NativeException;
import dev.pkrseq.sys.Sys;

/**
 * Worker threads that run a workload while a watcher reads their struct rseq areas directly: which CPU
 * each runs on, its mm_cid and node_id, how often it moved. The engine of {@code pkrseq watch}.
 *
 * <p>Each worker is a platform thread that uses glibc's registration where glibc made one, and pkrseq's
 * own otherwise ({@code GLIBC_TUNABLES=glibc.pthread.rseq=0}); only pkrseq's covers mm_cid and node_id
 * here. It shares an {@link RseqView} of its area with the watcher. {@link #sample()} reads those views:
 * plain loads, no system call per sample. Migrations are counted when two consecutive samples show
 * different CPUs, so they are a lower bound: a thread that moves away and back between two samples is
 * not seen moving.
 *
 * <p>The protocol keeps every read safe: a worker keeps its view open until {@link #close()} tells it to
 * stop; it then closes the view (which waits for a read in progress), unregisters pkrseq's registration if
 * it made one, and ends. The watcher never samples after {@link #close()}.
 *
 * <p>Any accepted number of workers ({@link #maxThreads()}: {@value #MAX_THREADS_PER_CPU} per CPU the
 * process may run on, {@value #MAX_THREADS} at most) starts and gives its first sample within about a
 * second, and the JVM stays responsive meanwhile (nothing it does waits for the workers), because:
 * <ul>
 *   <li>every worker is created and registered first, waiting; then all are released at once, the
 *       spinners by one {@code FUTEX_WAKE}, the others by the starting thread waking each one itself.
 *       (Released through a latch, each woken worker would wake the next, and behind workers that already
 *       spin each such wake-up waits a scheduling round: time quadratic in N.)</li>
 *   <li>the workers run under {@code SCHED_IDLE}, the lowest scheduling policy, which any thread may take,
 *       so that the watcher and the JVM's own threads (compiler, garbage collector, the signal handler)
 *       get the CPU they need; among themselves the workers compete as equals, which is what the watch
 *       shows. Even so, a thread's share of a CPU is its weight against all runnable threads' (SCHED_IDLE
 *       weighs 3, a normal thread 1024), hence the limit per CPU: at 512 busy workers per CPU the watcher
 *       still gets some 40% of one.</li>
 *   <li>{@link Workload#SPIN} waits and spins in native code ({@link NativeSpin}, on x86_64) from the
 *       moment a worker is ready until it is told to stop: a busy loop in Java would hold up every
 *       safepoint and handshake of the JVM (a deoptimization, a garbage collection, the last one at exit)
 *       until each spinning worker got a CPU again.</li>
 * </ul>
 *
 * <p>Not thread-safe: one thread starts, samples and closes a watch.
 */
public final class RseqWatch implements AutoCloseable {
    /** What the workers do between samples. */
    public enum Workload {
        /** Busy loop (in native code on x86_64): the threads want a CPU all the time. */
        SPIN,
        /** {@code Thread.yield()} in a loop ({@code sched_yield}): runnable, but giving the CPU away. */
        YIELD,
        /** Sleep 1 ms in a loop: the scheduler places each wake-up anew. */
        SLEEP;

        /**
         * The name the command line uses.
         *
         * @return "spin", "yield" or "sleep"
         */
        @Override
        public String toString() {
            return name().toLowerCase(Locale.ROOT);
        }

        /**
         * Parses a command-line name.
         *
         * @param name "spin", "yield" or "sleep", in any case
         * @return the workload
         * @throws IllegalArgumentException for any other name
         */
        public static Workload parse(String name) {
            for (Workload w : values()) {
                if (w.toString().equalsIgnoreCase(name)) {
                    return w;
                }
            }
            throw new IllegalArgumentException("'" + name + "' is not a workload: choose spin, yield or sleep");
        }
    }

    /**
     * One worker at one sample.
     *
     * @param index the worker's number, from 0
     * @param name its thread name
     * @param tid its kernel task id
     * @param owner who registered its area
     * @param cpuId {@code cpu_id}, -1 once the worker ended
     * @param cpuIdStart {@code cpu_id_start}, -1 once the worker ended
     * @param mmCid {@code mm_cid}, null when not covered or the worker ended
     * @param nodeId {@code node_id}, null when not covered or the worker ended
     * @param migrations how often consecutive samples showed different CPUs
     * @param samples samples taken of this worker so far
     * @param cpuSamples samples per CPU, by CPU number
     * @param ended null while the worker runs; why its area can no longer be read otherwise
     */
    public record ThreadSample(int index, String name, int tid, Owner owner, int cpuId, int cpuIdStart, Integer mmCid,
            Integer nodeId, long migrations, long samples, Map<Integer, Long> cpuSamples, String ended) {
    }

    /** The most workers a watch starts, whatever the CPUs. */
    public static final int MAX_THREADS = 4096;
    /** The most workers a watch starts per CPU it may run on. */
    public static final int MAX_THREADS_PER_CPU = 512;

    private final Workload workload;
    private final List<Worker> workers;
    private final Owner owner;
    private boolean closed;

    private RseqWatch(Workload workload, List<Worker> workers) {
        this.workload = workload;
        this.workers = workers;
        this.owner = workers.get(0).view.owner();
    }

    /**
     * The most workers {@link #start} accepts here: {@value #MAX_THREADS_PER_CPU} per CPU this thread may
     * run on (its affinity mask, which the workers inherit), and {@value #MAX_THREADS} at most.
     *
     * @return 1024 on two CPUs
     */
    public static int maxThreads() {
        return (int) Math.min(MAX_THREADS, (long) MAX_THREADS_PER_CPU * cpus());
    }

    /**
     * Why {@link #maxThreads()} is what it is, for refusals.
     *
     * @return for example "512 per CPU this process may run on, 2 CPUs: more busy workers would leave
     *     the watcher too little CPU to show a sample within about a second"
     */
    public static String maxThreadsReason() {
        int cpus = cpus();
        return (maxThreads() == MAX_THREADS ? MAX_THREADS + " at most" : MAX_THREADS_PER_CPU + " per CPU this process may"
                + " run on, " + cpus + (cpus == 1 ? " CPU" : " CPUs")) + ": more busy workers would leave the watcher too"
                + " little CPU to show a sample within about a second";
    }

    private static int cpus() {
        return Math.max(1, Sys.schedGetaffinity(0).cardinality());
    }

    /**
     * Starts the workers, waits until each has shared its area, then lets them all work at once.
     *
     * @param threads how many workers, 1 to {@link #maxThreads()}
     * @param workload what they do
     * @return the running watch; close it to stop the workers
     * @throws IllegalArgumentException for a thread count out of range, before any thread starts
     * @throws IllegalStateException when a worker cannot get a registered area, or a thread cannot be
     *     created (the process's thread limit); the message says why, and the workers already started are
     *     stopped first
     */
    public static RseqWatch start(int threads, Workload workload) {
        int max = maxThreads();
        if (threads < 1 || threads > max) {
            throw new IllegalArgumentException("threads must be 1 to " + max + " here (" + maxThreadsReason() + "), not "
                    + threads);
        }
        Objects.requireNonNull(workload, "workload");
        List<Worker> workers = new ArrayList<>();
        boolean nativeSpin = workload == Workload.SPIN && NativeSpin.available();
        if (nativeSpin) {
            NativeSpin.prepare();
        }
        Gate gate = new Gate(nativeSpin);
        try {
            for (int i = 0; i < threads; i++) {
                Worker w = new Worker(i, workload, gate);
                workers.add(w);
                try {
                    w.thread.start();
                } catch (OutOfMemoryError e) {
                    workers.remove(w);
                    throw new IllegalStateException("could start only " + i + " of " + threads + " worker threads: "
                            + e.getMessage() + " (the process's thread limit, ulimit -u or the cgroup's pids.max, or"
                            + " memory for their stacks)", e);
                }
            }
            for (Worker w : workers) {
                w.awaitReady();
            }
        } catch (RuntimeException | Error e) {
            stopAll(workers);
            throw e;
        }
        gate.open(workers);
        return new RseqWatch(workload, List.copyOf(workers));
    }

    /**
     * Reads every worker's area once and updates its counts.
     *
     * @return one sample per worker, in worker order
     * @throws IllegalStateException after {@link #close()}
     */
    public List<ThreadSample> sample() {
        if (closed) {
            throw new IllegalStateException("the watch is closed");
        }
        List<ThreadSample> out = new ArrayList<>(workers.size());
        for (Worker w : workers) {
            out.add(w.sample());
        }
        return out;
    }

    /**
     * Who registered the workers' areas: glibc in a normal JVM, pkrseq under
     * {@code GLIBC_TUNABLES=glibc.pthread.rseq=0}.
     *
     * @return the owner
     */
    public Owner owner() {
        return owner;
    }

    /**
     * Whether the workers' areas cover mm_cid and node_id.
     *
     * @return false for glibc's 20-byte registration
     */
    public boolean coversMmCid() {
        return workers.get(0).view.coversMmCid();
    }

    /**
     * The bytes of each worker's area that are registered and written by the kernel.
     *
     * @return 20 for glibc's registration here, 28 for pkrseq's
     */
    public int coveredLength() {
        return workers.get(0).view.coveredLength();
    }

    /**
     * The workload the workers run.
     *
     * @return the workload
     */
    public Workload workload() {
        return workload;
    }

    /**
     * The number of workers.
     *
     * @return threads started
     */
    public int threads() {
        return workers.size();
    }

    /**
     * Puts spinning workers to sleep in the kernel, where they hold no CPU, and returns at once; for a
     * JVM about to exit (a shutdown hook), whose own threads then get the CPUs. Any thread may call it.
     * The workers stay as they are otherwise: {@link #close()} still ends them, and sampling still works.
     * Does nothing for the other workloads, whose workers give the CPU away by themselves.
     */
    public void quiesce() {
        workers.get(0).gate.hold();
    }

    /**
     * Stops the workers and waits for them: each closes its view, unregisters what pkrseq registered for
     * it, and ends. Closing twice does nothing.
     */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            stopAll(workers);
        }
    }

    private static void stopAll(List<Worker> workers) {
        if (!workers.isEmpty()) {
            workers.get(0).gate.stop();
        }
        for (Worker w : workers) {
            w.stop = true;
            LockSupport.unpark(w.thread);
        }
        // The interrupt status comes back once all have ended; a retry re-joins the ended ones at once.
        Uninterruptibly.run(() -> {
            for (Worker w : workers) {
                w.thread.join();
            }
        });
    }

    /**
     * Holds the workers until all are ready, then lets them go at once; and stops them. Native spinners
     * sleep in the kernel and one {@code FUTEX_WAKE} starts them all; the others park, and the starting
     * thread unparks each one itself (a latch's waiters would wake one another in turn).
     */
    private static final class Gate {
        // Native spinners only: go, then stop. Null where the workers loop in Java.
        private final MemorySegment go;
        private final MemorySegment stop;
        private volatile boolean open;

        Gate(boolean nativeSpin) {
            this.go = nativeSpin ? NativeSpin.newFlag() : null;
            this.stop = nativeSpin ? NativeSpin.newFlag() : null;
        }

        boolean nativeSpin() {
            return go != null;
        }

        void open(List<Worker> workers) {
            open = true;
            if (go != null) {
                NativeSpin.release(go);
            }
            for (Worker w : workers) {
                LockSupport.unpark(w.thread);
            }
        }

        /** Parks a worker that loops in Java until the gate opens or it is told to stop. */
        void pass(Worker w) {
            while (!open && !w.stop) {
                LockSupport.park(this);
            }
        }

        void stop() {
            if (go != null) {
                NativeSpin.set(stop);
                NativeSpin.release(go);
            }
        }

        void hold() {
            if (go != null) {
                NativeSpin.hold(go);
            }
        }
    }

    private static final class Worker implements Runnable {
        final int index;
        final Workload workload;
        final Thread thread;
        final CountDownLatch ready = new CountDownLatch(1);
        final Gate gate;
        volatile boolean stop;
        // Published before ready counts down.
        RseqView view;
        RuntimeException failure;
        long sink;

        // Watcher-side counts.
        int lastCpu = -1;
        long migrations;
        long samples;
        final TreeMap<Integer, Long> perCpu = new TreeMap<>();
        String ended;

        Worker(int index, Workload workload, Gate gate) {
            this.index = index;
            this.workload = workload;
            this.gate = gate;
            this.thread = Thread.ofPlatform().name("pkrseq-watch-" + index).daemon(true).unstarted(this);
        }

        @Override
        public void run() {
            boolean own = false;
            try {
                RseqArea area = Rseq.current().orElse(null);
                if (area == null) {
                    area = Rseq.register();
                    own = true;
                }
                try (RseqView v = area.share()) {
                    view = v;
                    lowerPriority();
                    ready.countDown();
                    if (gate.nativeSpin()) {
                        // In native code from here until told to stop: asleep, then spinning.
                        NativeSpin.waitThenSpin(gate.go, gate.stop);
                    } else {
                        gate.pass(this);
                        work();
                    }
                }
            } catch (RuntimeException e) {
                failure = e;
            } finally {
                if (own) {
                    Rseq.unregister();
                }
                ready.countDown();
            }
        }

        private static void lowerPriority() {
            try {
                Sys.schedSetscheduler(0, Sys.SCHED_IDLE, 0);
            } catch (NativeException e) {
                // Any thread may take SCHED_IDLE for itself; should a policy refuse it all the same, the watch
                // still works, only the watcher competes with the workers as an equal.
            }
        }

        private void work() {
            long x = index;
            while (!stop) {
                switch (workload) {
                    case SPIN -> {
                        for (int i = 0; i < 10_000; i++) {
                            x = x * 6364136223846793005L + 1442695040888963407L;
                        }
                    }
                    case YIELD -> Thread.yield();
                    case SLEEP -> LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
                    default -> throw new AssertionError(workload);
                }
            }
            sink = x;
        }

        void awaitReady() {
            try {
                if (!ready.await(30, TimeUnit.SECONDS)) {
                    throw new IllegalStateException("worker " + index + " did not start within 30 s");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while starting worker " + index, e);
            }
            if (failure != null) {
                throw new IllegalStateException("worker " + index + " could not get a registered rseq area: "
                        + failure.getMessage(), failure);
            }
        }

        ThreadSample sample() {
            if (ended == null) {
                try {
                    RseqSample s = view.sample();
                    samples++;
                    if (lastCpu >= 0 && s.cpuId() != lastCpu) {
                        migrations++;
                    }
                    lastCpu = s.cpuId();
                    perCpu.merge(s.cpuId(), 1L, Long::sum);
                    return new ThreadSample(index, thread.getName(), view.tid(), view.owner(), s.cpuId(), s.cpuIdStart(),
                            boxed(s.mmCid()), boxed(s.nodeId()), migrations, samples,
                            Collections.unmodifiableMap(new TreeMap<>(perCpu)), null);
                } catch (RseqAreaGoneException e) {
                    ended = e.getMessage();
                }
            }
            return new ThreadSample(index, thread.getName(), view.tid(), view.owner(), -1, -1, null, null, migrations,
                    samples, Collections.unmodifiableMap(new TreeMap<>(perCpu)), ended);
        }

        private static Integer boxed(OptionalInt v) {
            return v.isPresent() ? v.getAsInt() : null;
        }
    }
}
