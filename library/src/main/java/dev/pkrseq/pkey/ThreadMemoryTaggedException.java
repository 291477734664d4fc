package dev.pkrseq.pkey;

/**
 * Refused: denying rights to a key that tags part of the calling thread's stack, its TCB and static TLS,
 * or its DTV. The JVM touches those pages on every call and every TLS access, so the thread would fault
 * at once, and a fault there kills the JVM.
 */
public final class ThreadMemoryTaggedException extends PkeyMisuseException {
    private static final long serialVersionUID = 1L;

    /** The key that tags the thread's own memory. */
    private final int key;

    ThreadMemoryTaggedException(int key, Rights rights, long low, long high, String what, long whatLow, long whatHigh,
            String consequence) {
        super(String.format("refusing to set key %d to %s on thread '%s' (tid %d): the key tags 0x%x-0x%x, part of this"
                + " thread's %s [0x%x-0x%x), %s", key, rights, Thread.currentThread().getName(), dev.pkrseq.sys.ThreadCalls.gettid(),
                low, high, what, whatLow, whatHigh, consequence));
        this.key = key;
    }

    /**
     * The key whose rights were not changed.
     *
     * @return 1 to 15
     */
    public int key() {
        return key;
    }
}
