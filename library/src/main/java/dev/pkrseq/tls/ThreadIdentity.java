package dev.pkrseq.tls;

import dev.pkrseq.sys.ThreadCalls;

/**
 * Which thread a TLS map belongs to, as Java and the kernel name it.
 *
 * <p>For a virtual thread the thread pointer, the TCB and the static TLS are its carrier's: a virtual
 * thread has no TLS of its own at the C level. {@code tid} is then the carrier's kernel task id.
 *
 * @param name the Java thread's name (a virtual thread's may be empty)
 * @param tid the kernel task id of the thread that ran the computation (the carrier for a virtual thread)
 * @param pid the process id
 * @param virtual whether the Java thread is a virtual thread
 * @param carrier the carrier's name for a virtual thread, as the JDK reports it, or null
 */
public record ThreadIdentity(String name, int tid, int pid, boolean virtual, String carrier) {

    /**
     * Whether this is the process's initial thread, the one the kernel started and the dynamic loader
     * set up ({@code tid == pid}). In a process started by the {@code java} launcher it is not the JVM's
     * {@code main} thread: the launcher runs {@code main} on a thread it creates.
     *
     * @return true when {@code tid == pid}
     */
    public boolean initialThread() {
        return tid == pid;
    }

    /**
     * The calling thread. Costs two system calls.
     *
     * @return its identity
     */
    static ThreadIdentity current() {
        Thread t = Thread.currentThread();
        String carrier = null;
        if (t.isVirtual()) {
            // The JDK renders a mounted virtual thread as "VirtualThread[#22]/runnable@ForkJoinPool-1-worker-1".
            String s = t.toString();
            int at = s.lastIndexOf('@');
            carrier = at < 0 ? null : s.substring(at + 1);
        }
        return new ThreadIdentity(t.getName(), ThreadCalls.gettid(), ThreadCalls.getpid(), t.isVirtual(), carrier);
    }

    /**
     * A short label for reports.
     *
     * @return for example {@code "main" (tid 6445)} or {@code virtual thread on ForkJoinPool-1-worker-1 (tid 6473)}
     */
    public String label() {
        String who = virtual ? "virtual thread" + (name.isEmpty() ? "" : " \"" + name + "\"")
                + (carrier == null ? "" : " on carrier " + carrier) : "\"" + name + "\"";
        return who + " (tid " + tid + (initialThread() ? ", the process's initial thread" : "") + ")";
    }
}
