package dev.pkrseq.testing;

import java.util.concurrent.atomic.AtomicReference;

/**
 * Code run on a thread of its own, for the rules that depend on which thread calls (PKRU and rseq areas
 * are per thread, virtual threads are refused), with what it threw handed back to the test's thread.
 */
public final class Threads {
    private Threads() {
    }

    /** Code for another thread; it may throw anything, an assertion's failure included. */
    @FunctionalInterface
    public interface Body {
        /**
         * Runs.
         *
         * @throws Throwable whatever it throws is handed back
         */
        void run() throws Throwable;
    }

    /**
     * Starts the body on a thread of the builder's kind and waits for it.
     *
     * @param builder for example {@code Thread.ofPlatform().name("misuse-stack").stackSize(1 << 20)}
     * @param body what the thread runs
     * @return what the body threw, or null
     * @throws InterruptedException when interrupted while waiting
     */
    public static Throwable thrownOn(Thread.Builder builder, Body body) throws InterruptedException {
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        builder.start(() -> {
            try {
                body.run();
            } catch (Throwable t) {
                thrown.set(t);
            }
        }).join();
        return thrown.get();
    }

    /**
     * Runs the body on a thread of the builder's kind; whatever it threw fails the test here.
     *
     * @param builder the thread's kind, name and stack size
     * @param body assertions that must hold on that thread
     * @throws InterruptedException when interrupted while waiting
     */
    public static void runOn(Thread.Builder builder, Body body) throws InterruptedException {
        Throwable t = thrownOn(builder, body);
        if (t != null) {
            throw new AssertionError(t);
        }
    }
}
