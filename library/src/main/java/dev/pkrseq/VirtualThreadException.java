package dev.pkrseq;

/**
 * Refused: reading or changing PKRU, or taking an rseq area or handle, from a virtual thread. PKRU and
 * struct rseq belong to the carrier thread, and a virtual thread can move between carriers, so the
 * change or the reading would concern a thread the caller does not control. Use a platform thread.
 */
public final class VirtualThreadException extends MisuseException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception; pkrseq's guards throw it before touching PKRU or an rseq area.
     *
     * @param message what was refused on which virtual thread, and what to use instead
     */
    public VirtualThreadException(String message) {
        super(message);
    }

    /**
     * Names a thread in messages.
     *
     * @param t the thread
     * @return for example {@code #42 'worker'}
     */
    public static String describe(Thread t) {
        return "#" + t.threadId() + (t.getName().isEmpty() ? "" : " '" + t.getName() + "'");
    }
}
