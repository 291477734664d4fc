package dev.pkrseq.rseq;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.pkrseq.UnavailableException;
import dev.pkrseq.VirtualThreadException;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.lang.ref.Cleaner;
import java.lang.ref.Reference;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * A counter with one slot per CPU, updated by a restartable sequence: no atomic instruction, no lock,
 * no CAS retry loop, however many threads add at once.
 *
 * <p>{@link #add(long)} calls {@link PerCpuOps#add}, librseq's {@code load_add_store}: a few instructions of
 * x86_64 machine code that pkrseq generated at run time (README.md and docs/rseq-toolkit.md show the
 * listing, byte by byte). The code reads the running CPU from the thread's struct rseq and adds to that
 * CPU's slot with one instruction, the commit. Were the thread preempted, migrated or signalled between the
 * read of the CPU and the commit, the kernel sends it to the abort handler, and the add is made again; so a
 * slot is only ever updated by the thread running on its CPU, with nothing in between, and plain loads and
 * stores suffice. {@link #restarts()} counts the aborted sections.
 *
 * <p><b>Registration.</b> The code needs the calling thread's struct rseq, and the counter picks its
 * variant when it is constructed, from who registered the constructing thread:
 * <ul>
 *   <li><b>glibc</b> (glibc 2.35+ registers every thread): the code finds the area itself at thread
 *       pointer + {@code __rseq_offset}, through the fs segment. {@link #add(long)} looks nothing up, and
 *       works on virtual threads too: it uses the struct rseq of the carrier it runs on, which is right,
 *       because the carrier is the thread the kernel schedules and cannot change during the call.</li>
 *   <li><b>pkrseq</b> (where glibc registers nothing: {@code GLIBC_TUNABLES=glibc.pthread.rseq=0}, glibc
 *       before 2.35, musl): the calling platform thread's own area from {@link RseqRegistry}, registered
 *       on the thread's first add ({@link Rseq#ensureRegistered()}) and passed to the code, at the cost of
 *       a {@code ThreadLocal} lookup per add. The thread stays registered until it calls
 *       {@link Rseq#unregister()} or ends. Virtual threads are refused: their carrier's registration is
 *       not theirs to make.</li>
 * </ul>
 *
 * <p><b>Memory.</b> The slots are one 8-byte item of a process-wide {@link PerCpuPool}: one copy per
 * possible CPU, {@link PerCpuOps#DEFAULT_STRIDE} (64 KiB) apart, so two CPUs' slots never share a cache line
 * while the counters of one CPU sit together. The item goes back to the pool once the counter is
 * unreachable, never while an add runs (an add keeps the counter reachable until the code has returned).
 * There is no {@code close()}, because freeing the slots while another thread is inside an add could only
 * be ruled out with an atomic operation per add. The machine code lives in one page per process, mapped on
 * first use and never unmapped.
 *
 * <p>Thread-safe. {@link #sum()} and {@link #reset()} are not atomic snapshots; see each.
 */
public final class PerCpuCounter {
    private static final VarHandle SLOT = JAVA_LONG.varHandle();
    private static final Cleaner CLEANER = Cleaner.create();
    // The pools counters take their slots from, by stride: 8 bytes per CPU per counter.
    private static final Map<Long, PerCpuPool> POOLS = new ConcurrentHashMap<>();

    private final PerCpuOps ops;
    private final PerCpuPool.Item item;
    // CPU 0's slot, spanning every CPU's: what the code takes.
    private final MemorySegment slots;
    private final int slotCount;
    private final long stride;
    private final LongAdder restarts = new LongAdder();

    /**
     * A counter at 0 that uses the registration the calling thread has: glibc's where glibc registered it,
     * pkrseq's own otherwise. The first counter of the process maps the code page (one mmap and one
     * mprotect) and the pool's first chunk; each counter takes 8 bytes per possible CPU from the pool.
     *
     * @throws UnavailableException on an architecture other than x86_64 (ARCHITECTURE), or where rseq does not
     *     work (then also nobody registered the thread): the kernel has none (ENOSYS), or something denies
     *     it (a seccomp filter's EPERM, say); the message says which
     */
    public PerCpuCounter() {
        this(PerCpuOps.cpuId());
    }

    /** A counter over other operations, for tests that widen the critical section (injected delays). */
    PerCpuCounter(PerCpuOps ops) {
        if (ops.index() != PerCpuOps.Index.CPU_ID) {
            throw new IllegalArgumentException("a PerCpuCounter is indexed by cpu_id");
        }
        this.ops = ops;
        this.stride = ops.stride();
        PerCpuPool pool = POOLS.computeIfAbsent(stride, s -> PerCpuPool.create(8, s));
        this.item = pool.allocate();
        this.slots = item.percpu();
        this.slotCount = pool.slots();
        int chunk = item.chunk();
        long offset = item.offset();
        // Unreachable means no add is running: the place may be reused without a fence.
        CLEANER.register(this, () -> pool.release(chunk, offset));
    }

    /**
     * Adds to the slot of the CPU the calling thread runs on.
     *
     * <p>Cost: one critical downcall into the generated code (a few ns: the JDK's call stub dominates;
     * the section itself is a handful of plain instructions), plus, under pkrseq's own registration, a
     * {@code ThreadLocal} lookup, and on the thread's first add there, its registration. No allocation, no
     * atomic instruction; an abort costs another call, counted in {@link #restarts()}.
     *
     * @param delta the amount, which may be negative
     * @throws VirtualThreadException under pkrseq's own registration, on a virtual thread
     * @throws IllegalStateException when the thread's struct rseq gives no usable CPU: it is not
     *     registered (cpu_id -1 or -2), or its CPU has no slot; nothing was added
     * @throws RseqException when pkrseq's own registration of the thread fails
     */
    public void add(long delta) {
        long r = ops.addUnchecked(slots, delta);
        if (r < 0) {
            settle(r, delta);
        }
        // The slots are kept alive by the segment; the counter must outlive the call for its cleaner.
        Reference.reachabilityFence(this);
    }

    /**
     * Adds 1. Same cost as {@link #add(long)}.
     *
     * @throws VirtualThreadException under pkrseq's own registration, on a virtual thread
     * @throws IllegalStateException when the thread's struct rseq gives no usable CPU
     * @throws RseqException when pkrseq's own registration of the thread fails
     */
    public void increment() {
        add(1);
    }

    /**
     * The total over all slots: one load per slot, no lock. Adds that complete before the call are
     * counted; adds concurrent with it may or may not be, as with {@link LongAdder#sum()}. Once the adding
     * threads have been joined, the sum is exact.
     *
     * @return the sum of all slots
     */
    public long sum() {
        long s = 0;
        for (int i = 0; i < slotCount; i++) {
            s += (long) SLOT.getOpaque(slots, i * stride);
        }
        Reference.reachabilityFence(this);
        return s;
    }

    /**
     * Each slot's value, by CPU number.
     *
     * @return a new array of {@link #slots()} values, read like {@link #sum()}
     */
    public long[] perCpu() {
        long[] v = new long[slotCount];
        for (int i = 0; i < slotCount; i++) {
            v[i] = (long) SLOT.getOpaque(slots, i * stride);
        }
        Reference.reachabilityFence(this);
        return v;
    }

    /**
     * Sets every slot to 0, and the restart count.
     *
     * <p>Exact only while no thread adds. The stores come from this thread, on whatever CPU it runs, and
     * the kernel restarts a critical section only for its own thread's preemption, migration or signal,
     * not for a store from another CPU. So an add that loaded a slot before the reset and commits after it
     * stores the old value plus its delta: the reset of that slot is undone, not just the add lost (worse
     * than {@link LongAdder#reset()}, whose CAS would retry). Use it between phases, when the adding
     * threads are quiet.
     */
    public void reset() {
        for (int i = 0; i < slotCount; i++) {
            SLOT.setOpaque(slots, i * stride, 0L);
        }
        restarts.reset();
        Reference.reachabilityFence(this);
    }

    /**
     * How many times the kernel aborted a critical section of this counter and the add was made again:
     * each is a preemption, migration or signal that hit a thread between its read of the CPU and its
     * commit. Only a call that was aborted adds to this {@link LongAdder}, so the common path stays free
     * of atomics.
     *
     * @return restarts since construction or the last {@link #reset()}
     */
    public long restarts() {
        return restarts.sum();
    }

    /**
     * Whose registration the generated code relies on, fixed at construction.
     *
     * @return {@link Owner#GLIBC}: the code finds glibc's area through the thread pointer;
     *     {@link Owner#PKRSEQ}: each platform thread's own area is passed in
     */
    public Owner owner() {
        return ops.owner();
    }

    /**
     * The number of slots: one per CPU id the kernel may report (the highest in
     * {@code /sys/devices/system/cpu/possible}, plus one).
     *
     * @return the slot count
     */
    public int slots() {
        return slotCount;
    }

    /**
     * The machine code every counter of this process runs, as a listing: the add functions of the
     * process-wide page, each instruction's address in the page, bytes, assembler text and purpose. Maps the
     * code page if nothing has yet.
     *
     * @return the listing, with the page's address in the first line
     * @throws UnavailableException on an architecture other than x86_64
     */
    public static String generatedCode() {
        PerCpuOps.chooseOwner(PerCpuOps.Index.CPU_ID);
        RseqCode c = RseqCode.Shared.CODE;
        StringBuilder sb = new StringBuilder("page 0x" + Long.toHexString(c.base()) + " (r-x), offsets from it:\n");
        for (RseqCode.Where w : RseqCode.Where.values()) {
            if (w == RseqCode.Where.AREA || c.config().rseqOffset().isPresent()) {
                sb.append(c.listing(RseqCode.Primitive.ADD, w, PerCpuOps.Index.CPU_ID));
            }
        }
        return sb.toString();
    }

    /**
     * Why a counter cannot be constructed here, if it cannot.
     *
     * @return empty where {@link #PerCpuCounter()} succeeds; otherwise the reason it would give
     */
    public static Optional<String> whyUnavailable() {
        return PerCpuOps.whyUnavailable(PerCpuOps.Index.CPU_ID);
    }

    // ---- Internals ---------------------------------------------------------------------------------

    /** The rare path: aborted sections to count and retry, or no slot. */
    private void settle(long r, long delta) {
        for (;;) {
            PerCpuOps.Status s = PerCpuOps.status(r);
            if (s == PerCpuOps.Status.NO_SLOT) {
                throw noSlot(PerCpuOps.index(r));
            }
            if (s != PerCpuOps.Status.ABORTED) {
                throw new IllegalStateException("PerCpuCounter.add(): unexpected result " + s);
            }
            restarts.increment();
            r = ops.addUnchecked(slots, delta);
            if (r >= 0) {
                return;
            }
        }
    }

    private IllegalStateException noSlot(int cpu) {
        if (cpu < 0) {
            return new IllegalStateException("PerCpuCounter.add(): this thread's struct rseq reads cpu_id " + cpu
                    + ", so it is not registered: " + Rseq.whyNotRegistered() + "; nothing was added");
        }
        return new IllegalStateException("PerCpuCounter.add(): cpu_id " + cpu + " has no slot: the code has "
                + ops.slots() + ", one per possible CPU (/sys/devices/system/cpu/possible); nothing was added");
    }

    @Override
    public String toString() {
        return "PerCpuCounter[sum " + sum() + ", " + slotCount + " slots, " + owner() + " registration, " + restarts()
                + " restarts]";
    }
}
