package dev.pkrseq.rseq;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.OptionalInt;

import dev.pkrseq.sys.MemoryCalls;
import dev.pkrseq.sys.ThreadCalls;

/**
 * The calling thread's struct rseq, as a read-only handle confined to that thread.
 *
 * <p>Get one per platform thread with {@link Rseq#current()} or {@link Rseq#register()}, keep it (in a
 * field of a per-thread object, not in a {@code ThreadLocal} you look up per read), and read it on the
 * same thread. Each read of {@link #cpuId()} or {@link #mmCidRaw()} is then one opaque load of the word
 * the kernel wrote on the latest return to user space (a plain {@code mov} on x86_64 that the JIT may not
 * hoist out of a loop), with no downcall, plus the same owner-thread check a confined
 * {@link java.lang.foreign.MemorySegment} makes: a compare of {@link Thread#currentThread()} with the
 * owner, which keeps three mistakes from passing silently:
 * <ul>
 *   <li>read on another platform thread, the handle would report the owner's CPU, not the reader's;</li>
 *   <li>read on a virtual thread, it would report a CPU that is neither its carrier's nor stable;</li>
 *   <li>read after the owner ended, it would load memory that glibc may have unmapped, and kill the JVM.</li>
 * </ul>
 * All three throw {@link WrongThreadException} instead. To watch another thread's area, the owner hands
 * out an {@link RseqView} with {@link #share()}.
 *
 * <p>The handle never writes: cpu_id_start, cpu_id, node_id and mm_cid belong to the kernel, which kills
 * the process for a write in its "v2" mode. node_id and mm_cid are present only when both the registered
 * length and the kernel's feature size cover them; otherwise {@link #nodeId()} and {@link #mmCid()} are
 * empty rather than a misleading 0.
 *
 * <p>After {@link Rseq#unregister()} the handle of that registration reads -1 from every field and
 * empty node_id and mm_cid, whatever later happens to the memory.
 */
public final class RseqArea extends RseqHandle {
    private static final VarHandle INT = JAVA_INT.varHandle();
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    /** What a handle reads once its registration is gone: -1 everywhere, 0 in rseq_cs and flags. */
    private static final MemorySegment UNREGISTERED = unregisteredWords();

    private final RseqRegistry.Slot slot;
    // Written only by the owning thread (at unregister), and read only by it: the confinement check
    // makes every access single-threaded, so a plain field is enough.
    private MemorySegment area;

    RseqArea(long address, int covered, Owner owner, RseqRegistry.Slot slot) {
        super(Thread.currentThread(), ThreadCalls.gettid(), address, covered, owner);
        this.slot = slot;
        this.area = MemoryCalls.memory(address, RseqAbi.MIN_LENGTH);
    }

    /**
     * {@code cpu_id}: the CPU this thread last ran on, as the kernel wrote it on the latest return to
     * user space. One opaque load after the owner check; no downcall, no allocation.
     *
     * @return the CPU; -1 once the registration ended
     * @throws WrongThreadException when called on a thread other than the owner
     */
    public int cpuId() {
        checkThread();
        return (int) INT.getOpaque(area, (long) RseqAbi.CPU_ID);
    }

    /**
     * {@code mm_cid} as a plain int, for hot loops: one opaque load after the owner check.
     *
     * @return the concurrency id, dense per process; -1 when the registration does not cover mm_cid
     *     ({@link #coversMmCid()} is false) or has ended
     * @throws WrongThreadException when called on a thread other than the owner
     */
    public int mmCidRaw() {
        checkThread();
        return coversMmCid() ? (int) INT.getOpaque(area, (long) RseqAbi.MM_CID) : -1;
    }

    /**
     * {@code cpu_id_start}: the CPU number the kernel guarantees valid, written together with cpu_id.
     *
     * @return a valid CPU number; -1 once the registration ended
     * @throws WrongThreadException when called on a thread other than the owner
     */
    public int cpuIdStart() {
        checkThread();
        return (int) INT.getOpaque(area, (long) RseqAbi.CPU_ID_START);
    }

    /**
     * {@code rseq_cs}: the address of the active critical-section descriptor, 0 outside one.
     *
     * @return the pointer value
     * @throws WrongThreadException when called on a thread other than the owner
     */
    public long rseqCs() {
        checkThread();
        return (long) LONG.getOpaque(area, (long) RseqAbi.RSEQ_CS);
    }

    /**
     * {@code flags}.
     *
     * @return the flags word
     * @throws WrongThreadException when called on a thread other than the owner
     */
    public int flags() {
        checkThread();
        return (int) INT.getOpaque(area, (long) RseqAbi.FLAGS);
    }

    /**
     * {@code node_id}, if covered.
     *
     * @return the NUMA node, or empty when the registration or the kernel does not cover the field, or
     *     the registration ended
     * @throws WrongThreadException when called on a thread other than the owner
     */
    public OptionalInt nodeId() {
        checkThread();
        return coversNodeId() && isRegistered()
                ? OptionalInt.of((int) INT.getOpaque(area, (long) RseqAbi.NODE_ID)) : OptionalInt.empty();
    }

    /**
     * {@code mm_cid}, if covered.
     *
     * @return the concurrency id, or empty when the registration or the kernel does not cover the field,
     *     or the registration ended
     * @throws WrongThreadException when called on a thread other than the owner
     */
    public OptionalInt mmCid() {
        checkThread();
        return coversMmCid() && isRegistered()
                ? OptionalInt.of((int) INT.getOpaque(area, (long) RseqAbi.MM_CID)) : OptionalInt.empty();
    }

    /**
     * Whether the registration behind this handle is still in place. glibc's never ends; pkrseq's ends at
     * {@link Rseq#unregister()}.
     *
     * @return false once the owning thread unregistered
     */
    public boolean isRegistered() {
        return area != UNREGISTERED;
    }

    /**
     * A view of this area that other threads may read while this thread lives, for watching it. Call it
     * on the owning thread, and close the view on that thread before it ends; see {@link RseqView}.
     *
     * @return a new open view
     * @throws WrongThreadException when called on a thread other than the owner
     * @throws IllegalStateException when the registration ended
     */
    public RseqView share() {
        checkThread();
        if (!isRegistered()) {
            throw new IllegalStateException("cannot share the rseq area of " + describeThread()
                    + ": it is not registered any more");
        }
        RseqView view = new RseqView(thread, tid, address, covered, owner);
        if (slot != null) {
            RseqRegistry.track(slot, view);
        }
        return view;
    }

    RseqRegistry.Slot slot() {
        return slot;
    }

    /** Called by the owning thread right after the kernel accepted RSEQ_FLAG_UNREGISTER. */
    void unregistered() {
        area = UNREGISTERED;
    }

    private void checkThread() {
        if (Thread.currentThread() != thread) {
            throw wrongThread();
        }
    }

    private WrongThreadException wrongThread() {
        Thread t = Thread.currentThread();
        return new WrongThreadException("this RseqArea belongs to " + describeThread() + ", not to "
                + (t.isVirtual() ? "virtual thread " : "thread ") + "'" + t.getName() + "': a handle reads its"
                + " owner's struct rseq, which would give the wrong CPU here (and, once the owner ends, memory"
                + " that may be gone); get this thread's own handle with Rseq.current(), or a view with share()");
    }

    private String describeThread() {
        return "thread '" + thread.getName() + "' (tid " + tid + ")";
    }

    private static MemorySegment unregisteredWords() {
        MemorySegment s = Arena.global().allocate(RseqAbi.MIN_LENGTH, RseqAbi.MIN_ALIGN);
        s.set(JAVA_INT, RseqAbi.CPU_ID_START, RseqAbi.CPU_ID_UNINITIALIZED);
        s.set(JAVA_INT, RseqAbi.CPU_ID, RseqAbi.CPU_ID_UNINITIALIZED);
        s.set(JAVA_INT, RseqAbi.NODE_ID, RseqAbi.CPU_ID_UNINITIALIZED);
        s.set(JAVA_INT, RseqAbi.MM_CID, RseqAbi.CPU_ID_UNINITIALIZED);
        return s;
    }

    @Override
    public String toString() {
        return "RseqArea[0x" + Long.toHexString(address) + ", " + owner + ", covered " + covered + ", "
                + describeThread() + (isRegistered() ? "" : ", unregistered") + "]";
    }
}
