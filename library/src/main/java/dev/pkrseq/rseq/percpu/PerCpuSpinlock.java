package dev.pkrseq.rseq.percpu;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.lang.ref.Reference;
import java.util.concurrent.atomic.LongAdder;

import dev.pkrseq.UnavailableException;
import dev.pkrseq.rseq.PerCpuOps;
import dev.pkrseq.rseq.PerCpuPool;

/**
 * A spinlock per CPU, after the kernel's {@code param_test -T s}: {@link #lock()} takes the lock of the
 * CPU the thread runs on with {@link PerCpuOps#compareAndStore} (0 to 1, librseq's
 * {@code load_cbne_store}) and returns which CPU's lock it took; {@link #unlock(int)} gives that one back
 * with a release store. The lock is held by the caller, not by a CPU: the holder may migrate, and a
 * thread now running on the locked CPU spins (then yields) until the holder unlocks.
 *
 * <p>Why it is cheap: taking an unheld lock is one critical section on the CPU's own word, no atomic
 * instruction and no cache line shared with other CPUs; only a holder preempted on its CPU makes others
 * there wait. Its use is data sharded per CPU that needs more than one word changed at once (param_test
 * increments a per-CPU count under it).
 *
 * <p>Ordering: the lock's acquisition is followed by {@link VarHandle#acquireFence()} (librseq's
 * {@code rseq_smp_acquire__after_ctrl_dep}) and the release is a {@code setRelease}; both are compiler-only
 * on x86-TSO.
 */
public final class PerCpuSpinlock extends PerCpuStructure {
    private static final VarHandle WORD = JAVA_LONG.varHandle();
    // After this many failed attempts in a row, yield: the holder may be preempted on this very CPU.
    private static final int SPINS_BEFORE_YIELD = 64;

    private final MemorySegment words;
    private final LongAdder contended = new LongAdder();

    /**
     * A spinlock per CPU at the default stride, all unlocked.
     *
     * @throws UnavailableException where rseq critical sections cannot run
     */
    public PerCpuSpinlock() {
        this(PerCpuOps.cpuId(), PerCpuPool.create(8));
    }

    /**
     * A spinlock per CPU (or per mm_cid), all unlocked, its words taken from a pool.
     *
     * @param ops the primitives (their index and stride decide whose lock a thread takes)
     * @param pool where the lock words come from; of the same stride as {@code ops}
     * @throws IllegalArgumentException when the strides differ
     */
    public PerCpuSpinlock(PerCpuOps ops, PerCpuPool pool) {
        super(ops, Structures.requireSameStride(ops, pool));
        this.words = percpu();
    }

    /**
     * Takes the lock of the CPU the calling thread runs on, waiting while someone holds it.
     *
     * @return the CPU (or mm_cid) whose lock the caller now holds: pass it to {@link #unlock(int)}
     * @throws IllegalStateException when the thread's struct rseq gives no usable index
     */
    public int lock() {
        int failures = 0;
        for (;;) {
            long r = ops.compareAndStore(words, 0, 1);
            if (r >= 0) {
                VarHandle.acquireFence();
                Reference.reachabilityFence(this);
                return (int) r;
            }
            switch (PerCpuOps.status(r)) {
                case ABORTED -> restarts.increment();
                case COMPARISON_FAILED -> {
                    if (failures == 0) {
                        contended.increment();
                    }
                    if (++failures % SPINS_BEFORE_YIELD == 0) {
                        Thread.yield();
                    } else {
                        Thread.onSpinWait();
                    }
                }
                default -> throw Structures.failed("PerCpuSpinlock.lock()", r);
            }
        }
    }

    /**
     * Gives back the lock {@link #lock()} took.
     *
     * @param index what {@link #lock()} returned
     * @throws IllegalStateException when that lock is not held (unlocked twice, or the wrong index)
     */
    public void unlock(int index) {
        long at = Structures.at(index, ops.slots(), stride);
        if ((long) WORD.getOpaque(words, at) != 1) {
            throw new IllegalStateException("PerCpuSpinlock.unlock(" + index + "): that lock is not held");
        }
        WORD.setRelease(words, at, 0L);
        Reference.reachabilityFence(this);
    }

    /**
     * Whether the lock of one CPU is held now (a racy read, for reports and tests).
     *
     * @param index a CPU (or mm_cid)
     * @return true when its word is 1
     */
    public boolean isLocked(int index) {
        boolean locked = (long) WORD.getOpaque(words, Structures.at(index, ops.slots(), stride)) == 1;
        Reference.reachabilityFence(this);
        return locked;
    }

    /**
     * Calls to {@link #lock()} that found the lock held at least once.
     *
     * @return the count since construction
     */
    public long contended() {
        return contended.sum();
    }

    @Override
    public String toString() {
        return describe("PerCpuSpinlock", "locks");
    }
}
