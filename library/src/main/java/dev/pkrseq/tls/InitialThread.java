package dev.pkrseq.tls;

/**
 * The process's initial thread, as pkrseq can see it from another thread.
 *
 * <p>In a process the {@code java} launcher started, the initial thread creates the JVM's {@code main}
 * thread and then waits for it in {@code pthread_join}; Java code never runs on it. Its TCB and static
 * TLS are the ones the seed (IA2's loader change) retags: the dynamic loader allocated them at start-up.
 *
 * @param tid its task id, which is the pid
 * @param layout its map, or null when it was not found
 * @param method how it was found, or why not
 * @param state its scheduler state letter from {@code /proc/self/task/PID/stat}, or null
 * @param syscall its {@code /proc/self/task/PID/syscall} line, or null
 * @param tidOffset the offset of the tid field in {@code struct pthread} that matched, or null
 */
public record InitialThread(int tid, TlsLayout layout, String method, String state, String syscall, Long tidOffset) {

    /** {@code futex} on x86_64, the call a thread blocked in {@code pthread_join} sits in. */
    private static final String FUTEX = "202";

    /**
     * Whether the thread was found.
     *
     * @return true when {@link #layout()} is set
     */
    public boolean found() {
        return layout != null;
    }

    /**
     * The futex word the thread waits on, when it is blocked in {@code futex}. A thread in
     * {@code pthread_join} waits on the joined thread's tid field, inside that thread's TCB.
     *
     * @return the address, or null when the thread is not in a futex wait
     */
    public Long futexWord() {
        if (syscall == null) {
            return null;
        }
        String[] f = syscall.split("\\s+");
        if (f.length < 2 || !f[0].equals(FUTEX)) {
            return null;
        }
        return Long.decode(f[1]);
    }

    /**
     * The thread pointer of the thread this one joins, when it waits in {@code pthread_join}: the futex
     * word minus the tid field's offset.
     *
     * @return the joined thread's tp, or null when not known
     */
    public Long joinedThreadPointer() {
        Long w = futexWord();
        return w == null || tidOffset == null ? null : w - tidOffset;
    }
}
