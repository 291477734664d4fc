package dev.pkrseq.rseq;

import dev.pkrseq.lab.ChildReport;
import dev.pkrseq.RseqAreaGoneException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.function.IntPredicate;

import dev.pkrseq.sys.ThreadCalls;

/**
 * Child JVM main for {@link RseqReuseRuleTest}, run with {@code GLIBC_TUNABLES=glibc.pthread.rseq=0}:
 * threads register with pkrseq's own areas and end with or without unregistering; the pool's answers
 * are printed as {@code key=value} lines.
 */
public final class ReuseRuleChild {
    private ReuseRuleChild() {
    }

    /**
     * Runs every scenario in turn.
     *
     * @param args unused
     * @throws Exception when a scenario cannot run
     */
    public static void main(String[] args) throws Exception {
        ChildReport.put("owner", Rseq.owner());
        heldWhileTaskExists();
        reusedOnceTaskIsGone();
        reusedAtOnceAfterUnregister();
        viewClosedOnUnregister();
        ChildReport.put("registered.after", RseqRegistry.registeredCount());
    }

    /** With every task reported alive, an ended thread's area stays out of the pool. */
    private static void heldWhileTaskExists() throws Exception {
        IntPredicate real = RseqRegistry.taskExists;
        RseqRegistry.taskExists = tid -> true;
        try {
            long[] ended = endWithoutUnregistering();
            RseqRegistry.Snapshot s = RseqRegistry.snapshot();
            ChildReport.put("held.state", s.inUse().stream().filter(e -> e.address() == ended[0])
                    .map(e -> e.state().name()).findFirst().orElse("FREE"));
            RseqArea next = Rseq.register();
            ChildReport.put("held.sameAddress", (next.address() == ended[0]));
            ChildReport.put("held.reclaimedWhileTaskExists", RseqRegistry.reclaim());
            Rseq.unregister();
            RseqRegistry.taskExists = real;
            waitForTaskExit((int) ended[1]);
            ChildReport.put("held.reclaimedAfterTaskExit", RseqRegistry.reclaim());
        } finally {
            RseqRegistry.taskExists = real;
        }
    }

    /** The real rule: once /proc/self/task/<tid> is gone, the next registration gets the area back. */
    private static void reusedOnceTaskIsGone() throws Exception {
        long[] ended = endWithoutUnregistering();
        ChildReport.put("gone.countBeforeExit", RseqRegistry.registeredCount());
        boolean gone = waitForTaskExit((int) ended[1]);
        ChildReport.put("gone.taskDirectoryGone", gone);
        RseqArea next = Rseq.register();
        ChildReport.put("gone.sameAddress", (next.address() == ended[0]));
        Rseq.unregister();
    }

    /** An area its thread unregistered goes back to the pool at once. */
    private static void reusedAtOnceAfterUnregister() throws Exception {
        long[] address = new long[1];
        Thread t = Thread.ofPlatform().start(() -> {
            address[0] = Rseq.register().address();
            Rseq.unregister();
        });
        t.join();
        RseqArea next = Rseq.register();
        ChildReport.put("unregistered.sameAddress", (next.address() == address[0]));
        Rseq.unregister();
    }

    /** A view shared from pkrseq's area refuses reads once its thread unregisters. */
    private static void viewClosedOnUnregister() throws Exception {
        RseqArea area = Rseq.register();
        RseqView view = area.share();
        String[] read = new String[2];
        Thread before = Thread.ofPlatform().start(() -> read[0] = Integer.toString(view.cpuId()));
        before.join();
        Rseq.unregister();
        Thread after = Thread.ofPlatform().start(() -> {
            try {
                read[1] = "read " + view.cpuId();
            } catch (RseqAreaGoneException e) {
                read[1] = e.reason().name();
            }
        });
        after.join();
        ChildReport.put("view.before", read[0]);
        ChildReport.put("view.after", read[1]);
    }

    /** Starts a thread that registers and ends without unregistering; returns {address, tid}. */
    private static long[] endWithoutUnregistering() throws InterruptedException {
        long[] r = new long[2];
        Thread t = Thread.ofPlatform().name("ends-registered").start(() -> {
            r[0] = Rseq.register().address();
            r[1] = ThreadCalls.gettid();
        });
        t.join();
        return r;
    }

    private static boolean waitForTaskExit(int tid) throws InterruptedException {
        Path dir = Path.of("/proc/self/task/" + tid);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (Files.exists(dir) && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        return !Files.exists(dir);
    }
}
