package dev.pkrseq;

/**
 * Refused: denying rights to a key that tags part of the calling thread's stack, its TCB and static TLS,
 * or its DTV. The JVM touches those pages on every call and every TLS access, so the thread would fault
 * at once, and a fault there kills the JVM.
 */
public final class ThreadMemoryTaggedException extends MisuseException {
    private static final long serialVersionUID = 1L;

    /** The key that tags the thread's own memory. */
    private final int key;

    /**
     * Creates the exception.
     *
     * @param key the key refused
     * @param rights the rights asked for
     * @param low start of the tagged range
     * @param high end of the tagged range
     * @param what which thread memory it is part of, for example "stack"
     * @param whatLow start of that memory
     * @param whatHigh end of that memory
     * @param consequence what the change would do
     */
    public ThreadMemoryTaggedException(int key, dev.pkrseq.pkey.Rights rights, long low, long high, String what, long whatLow, long whatHigh,
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
