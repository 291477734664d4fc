package dev.pkrseq.observe;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import dev.pkrseq.pkey.Pkru;
import dev.pkrseq.pkey.ProtectionKey;
import dev.pkrseq.pkey.Rights;
import dev.pkrseq.sys.Sys;

/**
 * A platform thread of its own that runs probes on request, because protection-key rights belong to a
 * thread: the {@link AccessProbe} and {@code pkey_get} answer for the thread that calls them.
 *
 * <p>The thread starts in {@link #start(String)} and lives until {@link #close()}, so it can stand for
 * "a thread that already existed" when another thread allocates a key. It inherits the PKRU of the
 * thread that calls {@code start}, as every new thread does.
 */
public final class ThreadProbe implements AutoCloseable {
    private final ExecutorService executor;
    private final String name;
    private final int tid;
    // The probe's own thread, set by the thread itself on its first task.
    private volatile Thread thread;

    private ThreadProbe(String name) {
        this.name = name;
        this.executor = Executors.newSingleThreadExecutor(Thread.ofPlatform().name(name).daemon(true).factory());
        this.tid = call(() -> {
            thread = Thread.currentThread();
            return Sys.gettid();
        });
    }

    /**
     * Starts the thread now and waits until it runs.
     *
     * @param name the thread's name
     * @return the probe
     */
    public static ThreadProbe start(String name) {
        return new ThreadProbe(name);
    }

    /**
     * Runs a task on the probe's thread and waits for it.
     *
     * @param task the work
     * @param <T> its result type
     * @return the task's result
     * <p>Called from a task that already runs on the probe's thread, it runs the task there and then:
     * queued behind the caller, it would wait for the caller, which waits for it.
     *
     * @throws RuntimeException the task's own unchecked exception or error, as thrown; a checked one
     *     wrapped in an {@link IllegalStateException}
     */
    public <T> T call(Callable<T> task) {
        if (Thread.currentThread() == thread) {
            try {
                return task.call();
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException("task on thread '" + name + "' failed: " + e, e);
            }
        }
        Future<T> f = executor.submit(task);
        try {
            return f.get();
        } catch (InterruptedException e) {
            f.cancel(true);
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for thread '" + name + "'", e);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException r) {
                throw r;
            }
            if (c instanceof Error err) {
                throw err;
            }
            throw new IllegalStateException("task on thread '" + name + "' failed: " + c, c);
        }
    }

    /**
     * Runs an action on the probe's thread and waits for it.
     *
     * @param action the work
     */
    public void run(Runnable action) {
        call(() -> {
            action.run();
            return null;
        });
    }

    /**
     * Whether the kernel may read a segment's first bytes on behalf of this thread.
     *
     * @param segment mapped native memory
     * @return false on EFAULT
     */
    public boolean canRead(MemorySegment segment) {
        return call(() -> AccessProbe.canRead(segment));
    }

    /**
     * Whether the kernel may write a segment's first bytes on behalf of this thread (bytes left unchanged).
     *
     * @param segment mapped native memory
     * @return false on EFAULT
     */
    public boolean canWrite(MemorySegment segment) {
        return call(() -> AccessProbe.canWrite(segment));
    }

    /**
     * This thread's rights for a key (pkey_get on this thread).
     *
     * @param key an open key
     * @return the rights
     */
    public Rights rights(ProtectionKey key) {
        return call(key::rights);
    }

    /**
     * This thread's PKRU.
     *
     * @return the value
     */
    public Pkru pkru() {
        return call(Pkru::current);
    }

    /**
     * The thread's kernel task id.
     *
     * @return the tid
     */
    public int tid() {
        return tid;
    }

    /**
     * The thread's name.
     *
     * @return the name given to {@link #start}
     */
    public String name() {
        return name;
    }

    /**
     * Ends the thread after the task it runs, and waits for it to end; called from a task on the probe's
     * own thread, it ends the thread after that task without waiting (a thread cannot wait for itself).
     */
    @Override
    public void close() {
        executor.shutdown();
        if (Thread.currentThread() == thread) {
            return;
        }
        try {
            if (!executor.awaitTermination(60, TimeUnit.SECONDS)) {
                executor.shutdownNow();
            }
        } catch (InterruptedException e) {
            executor.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }
}
