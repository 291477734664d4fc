package dev.pkrseq;

import java.util.Locale;

/**
 * A read of another thread's struct rseq was refused because the area may be gone: the thread has
 * ended, unregistered, or closed its {@link dev.pkrseq.rseq.RseqView}. Reading it anyway could load unmapped memory and
 * kill the JVM, or read a newer thread's area.
 */
public final class RseqAreaGoneException extends MisuseException {
    private static final long serialVersionUID = 1L;

    /** Why the view refuses reads. */
    public enum Reason {
        /** The owning thread has ended. */
        THREAD_ENDED("the thread has ended"),
        /** The owning thread unregistered pkrseq's registration of the area. */
        UNREGISTERED("the thread unregistered it"),
        /** The view was closed, normally by its owner on the way out. */
        CLOSED("the view was closed");

        private final String words;

        Reason(String words) {
            this.words = words;
        }

        /**
         * The name reports use.
         *
         * @return "thread-ended", "unregistered" or "closed"
         */
        @Override
        public String toString() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }
    }

    /** Why the area can no longer be read. */
    private final Reason reason;
    /** The thread the area belonged to. */
    private final int tid;

    /**
     * Creates the exception.
     *
     * @param reason why reads are refused
     * @param threadName the owning thread's name
     * @param tid the owning thread's kernel task id
     * @param address the area
     */
    public RseqAreaGoneException(Reason reason, String threadName, int tid, long address) {
        super("cannot read the rseq area of thread '" + threadName + "' (tid " + tid + ", area 0x"
                + Long.toHexString(address) + "): " + reason.words);
        this.reason = reason;
        this.tid = tid;
    }

    /**
     * Why the read was refused.
     *
     * @return the reason
     */
    public Reason reason() {
        return reason;
    }

    /**
     * The thread whose area it was.
     *
     * @return its kernel task id
     */
    public int tid() {
        return tid;
    }
}
