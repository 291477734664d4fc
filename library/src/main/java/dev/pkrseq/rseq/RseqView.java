package dev.pkrseq.rseq;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import dev.pkrseq.RseqAreaGoneException;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.OptionalInt;
import java.util.concurrent.atomic.AtomicInteger;

import dev.pkrseq.sys.MemoryCalls;

/**
 * A read-only view of one thread's struct rseq that other threads may read, for watching threads move
 * between CPUs without a system call per sample.
 *
 * <p>Another thread's struct rseq is ordinary memory of that thread: glibc keeps it in the thread's
 * control block at the top of its stack, pkrseq in a pool it never unmaps. Once the thread ends, glibc
 * may unmap or reuse that stack, and a Java load from it would kill the JVM with SIGSEGV. So a view
 * refuses every read, with {@link RseqAreaGoneException}, once
 * <ul>
 *   <li>it was closed ({@link #close()}), which the owning thread does before it ends;</li>
 *   <li>the owning thread unregistered pkrseq's registration (the registry closes the views);</li>
 *   <li>the owning thread has ended ({@link Thread#isAlive()} is false).</li>
 * </ul>
 * Closing waits for reads in progress, so a thread that closes its views before it ends can never have
 * its memory read after it is gone. The last check is a best effort for owners that forget to close:
 * it cannot stop a read that began just before the thread ended. Threads that share their area should
 * therefore close the view on their way out, for example with try-with-resources around their work.
 *
 * <p>Each read costs two atomic updates on a counter besides the load: cheap for a watcher, but for a
 * thread's own hot path use its {@link RseqArea}.
 */
public final class RseqView extends RseqHandle implements AutoCloseable {
    private static final VarHandle INT = JAVA_INT.varHandle();
    private static final int CLOSED = -1;

    private final MemorySegment area;
    // >= 0: reads in progress; CLOSED: no more reads.
    private final AtomicInteger readers = new AtomicInteger();
    private volatile RseqAreaGoneException.Reason closedBecause;

    RseqView(Thread thread, int tid, long address, int covered, Owner owner) {
        super(thread, tid, address, covered, owner);
        this.area = MemoryCalls.memory(address, RseqAbi.MIN_LENGTH);
    }

    /**
     * Reads every field at once.
     *
     * @return the fields as the kernel last wrote them
     * @throws RseqAreaGoneException when the view was closed or the owning thread ended
     */
    public RseqSample sample() {
        enter();
        try {
            int start = (int) INT.getOpaque(area, (long) RseqAbi.CPU_ID_START);
            int cpu = (int) INT.getOpaque(area, (long) RseqAbi.CPU_ID);
            OptionalInt node = coversNodeId()
                    ? OptionalInt.of((int) INT.getOpaque(area, (long) RseqAbi.NODE_ID)) : OptionalInt.empty();
            OptionalInt cid = coversMmCid()
                    ? OptionalInt.of((int) INT.getOpaque(area, (long) RseqAbi.MM_CID)) : OptionalInt.empty();
            return new RseqSample(tid, start, cpu, node, cid);
        } finally {
            exit();
        }
    }

    /**
     * The owning thread's {@code cpu_id}.
     *
     * @return the CPU it last ran on
     * @throws RseqAreaGoneException when the view was closed or the owning thread ended
     */
    public int cpuId() {
        enter();
        try {
            return (int) INT.getOpaque(area, (long) RseqAbi.CPU_ID);
        } finally {
            exit();
        }
    }

    /**
     * The owning thread's {@code mm_cid}, if covered.
     *
     * @return the concurrency id, or empty when the registration does not cover it
     * @throws RseqAreaGoneException when the view was closed or the owning thread ended
     */
    public OptionalInt mmCid() {
        return sample().mmCid();
    }

    /**
     * The owning thread's {@code node_id}, if covered.
     *
     * @return the NUMA node, or empty when the registration does not cover it
     * @throws RseqAreaGoneException when the view was closed or the owning thread ended
     */
    public OptionalInt nodeId() {
        return sample().nodeId();
    }

    /**
     * Whether reads may still succeed: not closed, and the owner alive.
     *
     * @return false once a read would throw
     */
    public boolean isOpen() {
        return readers.get() != CLOSED && thread.isAlive();
    }

    /**
     * Ends the view: later reads throw, and reads in progress on other threads finish first. The owning
     * thread calls it before it ends; any thread may call it. Closing twice does nothing.
     */
    @Override
    public void close() {
        close(RseqAreaGoneException.Reason.CLOSED);
    }

    void close(RseqAreaGoneException.Reason reason) {
        if (closedBecause == null) {
            closedBecause = reason;
        }
        while (true) {
            int r = readers.get();
            if (r == CLOSED || readers.compareAndSet(0, CLOSED)) {
                return;
            }
            Thread.onSpinWait();
        }
    }

    private void enter() {
        while (true) {
            int r = readers.get();
            if (r == CLOSED) {
                throw gone(closedBecause == null ? RseqAreaGoneException.Reason.CLOSED : closedBecause);
            }
            if (readers.compareAndSet(r, r + 1)) {
                break;
            }
        }
        if (!thread.isAlive()) {
            exit();
            throw gone(RseqAreaGoneException.Reason.THREAD_ENDED);
        }
    }

    private void exit() {
        readers.decrementAndGet();
    }

    private RseqAreaGoneException gone(RseqAreaGoneException.Reason reason) {
        return new RseqAreaGoneException(reason, thread.getName(), tid, address);
    }

    @Override
    public String toString() {
        return "RseqView[0x" + Long.toHexString(address) + ", " + owner + ", thread '" + thread.getName() + "' (tid "
                + tid + ")" + (readers.get() == CLOSED ? ", closed" : "") + "]";
    }
}
