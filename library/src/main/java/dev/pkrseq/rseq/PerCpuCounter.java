package dev.pkrseq.rseq;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.pkrseq.UnavailableException;
import dev.pkrseq.VirtualThreadException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.lang.ref.Reference;
import java.util.Optional;
import java.util.concurrent.atomic.LongAdder;

import dev.pkrseq.sys.Syscall;

/**
 * A counter with one slot per CPU, updated by a restartable sequence: no atomic instruction, no lock,
 * no CAS retry loop, however many threads add at once.
 *
 * <p>{@link #add(long)} calls a few dozen bytes of x86_64 machine code that pkrseq generated at run time
 * (see the README for the listing, byte by byte). The code reads the running CPU
 * from the thread's struct rseq, loads that CPU's slot, adds, and stores: the store is the commit. Were
 * the thread preempted, migrated or signalled between the read of the CPU and the commit, the kernel
 * sends it to the abort handler, which retries; so a slot is only ever updated by the thread running on
 * its CPU, with nothing in between, and plain loads and stores suffice. {@link #restarts()} counts the
 * retries.
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
 * <p><b>Memory.</b> The slots are {@link #slots()} longs, one per possible CPU, 128 bytes apart (two cache
 * lines, so that neither false sharing nor the adjacent-line prefetcher couples two CPUs), in memory of an
 * automatic arena: freed by the garbage collector once the counter is unreachable, never while an add
 * runs. There is no {@code close()}, because freeing the slots while another thread is inside an add
 * could only be ruled out with an atomic operation per add. The machine code lives in one page per
 * process, mapped on first use and never unmapped.
 *
 * <p>Thread-safe. {@link #sum()} and {@link #reset()} are not atomic snapshots; see each.
 */
public final class PerCpuCounter {
    private static final VarHandle SLOT = JAVA_LONG.varHandle();

    private final MemorySegment slots;
    private final long slotsAddress;
    private final int slotCount;
    private final boolean glibc;
    // glibc's registration and the shared code: the path with no lookup and no further branch.
    private final boolean sharedGlibc;
    // Tests only: another code page (an injected delay). null means the shared code and its static handles.
    private final RseqCode custom;
    private final MethodHandle customGlibc;
    private final MethodHandle customArea;
    private final LongAdder restarts = new LongAdder();

    /**
     * A counter at 0 that uses the registration the calling thread has: glibc's where glibc registered it,
     * pkrseq's own otherwise. The first counter of the process maps the code page (one mmap and one
     * mprotect); each counter allocates {@link #slots()} × 128 bytes.
     *
     * @throws UnsupportedOperationException on an architecture other than x86_64, or where rseq does not
     *     work (then also nobody registered the thread): the kernel has none (ENOSYS), or something denies
     *     it (a seccomp filter's EPERM, say); the message says which
     */
    public PerCpuCounter() {
        this(null, chooseOwner());
    }

    /** A counter over another code page, for tests that widen the critical section. */
    PerCpuCounter(RseqCode code, Owner owner) {
        if (owner != Owner.GLIBC && owner != Owner.PKRSEQ) {
            throw new IllegalArgumentException("owner must be glibc or pkrseq, not " + owner);
        }
        this.glibc = owner == Owner.GLIBC;
        this.custom = code;
        this.sharedGlibc = glibc && code == null;
        RseqCode c = code == null ? RseqCode.Shared.CODE : code;
        if (glibc && c.rseqOffset().isEmpty()) {
            throw new IllegalStateException("the code has no glibc variant: glibc exports no usable __rseq_offset");
        }
        this.customGlibc = code == null || !glibc ? null : code.glibcHandle();
        this.customArea = code == null || glibc ? null : code.areaHandle();
        this.slotCount = c.slots();
        this.slots = Arena.ofAuto().allocate((long) slotCount * RseqCode.SLOT_BYTES, RseqCode.SLOT_BYTES);
        this.slotsAddress = slots.address();
    }

    /**
     * Adds to the slot of the CPU the calling thread runs on.
     *
     * <p>Cost: one critical downcall into the generated code (a few ns: the JDK's call stub dominates;
     * the section itself is a handful of plain instructions), plus, under pkrseq's own registration, a
     * {@code ThreadLocal} lookup, and on the thread's first add there, its registration. No allocation, no
     * atomic instruction; an abort costs a retry, counted in {@link #restarts()}.
     *
     * @param delta the amount, which may be negative
     * @throws UnsupportedOperationException under pkrseq's own registration, on a virtual thread
     * @throws IllegalStateException when the thread's struct rseq gives no usable CPU: it is not
     *     registered (cpu_id -1 or -2), or its CPU has no slot; nothing was added
     * @throws RseqException when pkrseq's own registration of the thread fails
     */
    public void add(long delta) {
        long r = call(delta);
        if (r != 0) {
            settle(r, delta);
        }
    }

    /**
     * Adds 1. Same cost as {@link #add(long)}.
     *
     * @throws UnsupportedOperationException under pkrseq's own registration, on a virtual thread
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
            s += (long) SLOT.getOpaque(slots, (long) i << RseqCode.SLOT_SHIFT);
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
            v[i] = (long) SLOT.getOpaque(slots, (long) i << RseqCode.SLOT_SHIFT);
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
            SLOT.setOpaque(slots, (long) i << RseqCode.SLOT_SHIFT, 0L);
        }
        restarts.reset();
        Reference.reachabilityFence(this);
    }

    /**
     * How many times the kernel aborted a critical section of this counter and the code retried: each is a
     * preemption, migration or signal that hit a thread between its read of the CPU and its commit. The
     * generated code counts them in a register and returns the count; only a call that had restarts adds it
     * here (a {@link LongAdder}), so the common path stays free of atomics.
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
        return glibc ? Owner.GLIBC : Owner.PKRSEQ;
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
     * The machine code every counter of this process runs, as a listing: each instruction's address in
     * the page, bytes, assembler text and purpose. Maps the code page if no counter has yet.
     *
     * @return the listing, with the page's address in the first line
     * @throws UnsupportedOperationException on an architecture other than x86_64
     */
    public static String generatedCode() {
        requireX86_64();
        RseqCode c = RseqCode.Shared.CODE;
        return "page 0x" + Long.toHexString(c.base()) + " (r-x), offsets from it:\n" + c.listing();
    }

    /**
     * Why a counter cannot be constructed here, if it cannot.
     *
     * @return empty where {@link #PerCpuCounter()} succeeds; otherwise the reason it would give
     */
    public static Optional<String> whyUnavailable() {
        try {
            chooseOwner();
            return Optional.empty();
        } catch (UnavailableException e) {
            return Optional.of(e.getMessage());
        }
    }

    // ---- Internals ---------------------------------------------------------------------------------

    private long call(long delta) {
        try {
            // The common case first: one static final handle, which the JIT binds to the code directly.
            return sharedGlibc ? (long) RseqCode.Shared.GLIBC.invokeExact(slotsAddress, delta) : callOther(delta);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError("the generated code cannot throw", t);
        } finally {
            // The slots belong to an automatic arena: keep them alive until the code has returned.
            Reference.reachabilityFence(this);
        }
    }

    private long callOther(long delta) throws Throwable {
        if (custom == null) {
            return (long) RseqCode.Shared.AREA.invokeExact(slotsAddress, delta, ownArea());
        }
        return glibc ? (long) customGlibc.invokeExact(slotsAddress, delta)
                : (long) customArea.invokeExact(slotsAddress, delta, ownArea());
    }

    /** The rare path: restarts to count, no slot, or a call that gave up. */
    private void settle(long r, long delta) {
        for (;;) {
            int n = (int) r;
            if (n != 0) {
                restarts.add(n);
            }
            if ((r & RseqCode.NO_SLOT) != 0) {
                throw noSlot();
            }
            if ((r & RseqCode.GAVE_UP) == 0) {
                return;
            }
            r = call(delta);
        }
    }

    private static long ownArea() {
        if (Thread.currentThread().isVirtual()) {
            throw new VirtualThreadException("PerCpuCounter.add() refused on virtual thread '"
                    + Thread.currentThread().getName() + "': this counter uses pkrseq's own rseq registration ("
                    + Rseq.whyNotRegistered() + "), which needs the calling thread's own struct rseq, and a virtual"
                    + " thread's carrier is not its to register. Add from a platform thread, or run where glibc"
                    + " registers rseq (glibc 2.35+ without GLIBC_TUNABLES=glibc.pthread.rseq=0)");
        }
        return Rseq.areaAddressForCriticalSection();
    }

    private IllegalStateException noSlot() {
        int cpu = glibc ? Rseq.glibcCpuIdWord().orElse(RseqAbi.CPU_ID_REGISTRATION_FAILED)
                : Rseq.current().map(RseqArea::cpuId).orElse(RseqAbi.CPU_ID_UNINITIALIZED);
        if (cpu < 0) {
            return new IllegalStateException("PerCpuCounter.add(): this thread's struct rseq reads cpu_id " + cpu
                    + ", so it is not registered: " + Rseq.whyNotRegistered() + "; nothing was added");
        }
        return new IllegalStateException("PerCpuCounter.add(): cpu_id " + cpu + " has no slot: the counter has "
                + slotCount + ", one per possible CPU (/sys/devices/system/cpu/possible); nothing was added");
    }

    static Owner chooseOwner() {
        requireX86_64();
        if (RseqCode.usableGlibcOffset().isPresent()
                && Rseq.glibcCpuIdWord().orElse(RseqAbi.CPU_ID_REGISTRATION_FAILED) >= 0) {
            return Owner.GLIBC;
        }
        RseqSyscall.Availability a = RseqSyscall.availability();
        if (a.available()) {
            return Owner.PKRSEQ;
        }
        throw new UnavailableException(UnavailableException.Feature.RSEQ, "PerCpuCounter: rseq is unavailable: " + a.reason());
    }

    private static void requireX86_64() {
        if (!Syscall.architectureSupported()) {
            throw new UnavailableException(UnavailableException.Feature.ARCHITECTURE, "PerCpuCounter: unsupported architecture: " + Syscall.architecture()
                    + " (its critical section is generated x86_64 machine code)");
        }
    }

    @Override
    public String toString() {
        return "PerCpuCounter[sum " + sum() + ", " + slotCount + " slots, " + owner() + " registration, " + restarts()
                + " restarts]";
    }
}
