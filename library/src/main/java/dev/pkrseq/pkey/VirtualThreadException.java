package dev.pkrseq.pkey;

/**
 * Refused: reading or changing PKRU from a virtual thread. PKRU is a register of the carrier thread,
 * and a virtual thread can move between carriers, so the change would land on a thread the caller does
 * not control. Use a platform thread.
 */
public final class VirtualThreadException extends PkeyMisuseException {
    private static final long serialVersionUID = 1L;

    private VirtualThreadException(String message) {
        super(message);
    }

    static void check(String action) {
        Thread t = Thread.currentThread();
        if (t.isVirtual()) {
            throw new VirtualThreadException("cannot " + action + " from virtual thread " + describe(t)
                    + ": PKRU belongs to the carrier thread, and a virtual thread can move between carriers;"
                    + " use a platform thread");
        }
    }

    private static String describe(Thread t) {
        return "#" + t.threadId() + (t.getName().isEmpty() ? "" : " '" + t.getName() + "'");
    }
}
