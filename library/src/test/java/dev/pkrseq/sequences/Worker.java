package dev.pkrseq.sequences;

import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A platform thread that runs the steps given to it, one at a time, while the caller waits: rights and
 * rseq registrations are per thread, so each step must run on its own worker.
 */
final class Worker implements AutoCloseable {
    private static final FutureTask<Void> STOP = new FutureTask<>(() -> null);

    private final BlockingQueue<FutureTask<?>> queue = new LinkedBlockingQueue<>();
    private final Thread thread;
    private final long limitSeconds;

    Worker(String name, long limitSeconds) {
        this.limitSeconds = limitSeconds;
        this.thread = Thread.ofPlatform().name(name).daemon().start(this::loop);
    }

    /** Runs the call on this worker and returns its value or throws what it threw. */
    <T> T call(Callable<T> c) throws Exception {
        FutureTask<T> f = new FutureTask<>(c);
        queue.add(f);
        try {
            return f.get(limitSeconds, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Exception x) {
                throw x;
            }
            if (e.getCause() instanceof Error x) {
                throw x;
            }
            throw e;
        } catch (TimeoutException e) {
            throw new AssertionError("worker '" + thread.getName() + "' did not finish a step within " + limitSeconds + " s", e);
        }
    }

    Thread thread() {
        return thread;
    }

    private void loop() {
        while (true) {
            FutureTask<?> f;
            try {
                f = queue.take();
            } catch (InterruptedException e) {
                return;
            }
            if (f == STOP) {
                return;
            }
            f.run();
        }
    }

    /** Ends the thread and waits for it. */
    @Override
    public void close() {
        queue.add(STOP);
        try {
            thread.join(TimeUnit.SECONDS.toMillis(limitSeconds));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
