package dev.pkrseq.lab.internal;

/**
 * Blocking that does not give up on interrupt: cleanup that must wait for threads to end (joins, latches)
 * whatever the caller's interrupt status says, and then hands that status back.
 */
public final class Uninterruptibly {
    /** A blocking step that may be interrupted. */
    @FunctionalInterface
    public interface Blocking {
        /**
         * Blocks until done.
         *
         * @throws InterruptedException when interrupted before it was done
         */
        void run() throws InterruptedException;
    }

    private Uninterruptibly() {
    }

    /**
     * Runs a blocking step again after each interrupt until it completes, then re-asserts the calling
     * thread's interrupt status if any interrupt arrived meanwhile.
     *
     * @param action the step; it must be safe to run again from the start after an interrupt
     */
    public static void run(Blocking action) {
        boolean interrupted = false;
        while (true) {
            try {
                action.run();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
