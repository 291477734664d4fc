package dev.pkrseq.rseq;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import dev.pkrseq.RseqAreaGoneException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntPredicate;

import dev.pkrseq.proc.Task;
import dev.pkrseq.sys.MemoryCalls;

/**
 * The pool of struct rseq areas behind pkrseq's own registration ({@link Rseq#register()}).
 *
 * <p>The kernel writes a registered area on every return to user space of its thread, until the
 * thread unregisters or its kernel task exits, and never after. Memory freed or reused while it is
 * registered gets corrupted, or the kernel SIGSEGVs the thread. So:
 * <ul>
 *   <li>the areas live in anonymous pages the pool maps and <em>never unmaps</em>;</li>
 *   <li>an area goes back to the pool when its thread unregisters;</li>
 *   <li>an area whose thread ended without unregistering ({@link State#ENDED}) goes back only once
 *       {@code /proc/self/task/<tid>} is gone: the kernel task has exited, so the kernel cannot write
 *       the area any more. A tid reused by a newer thread of this process keeps the area out of the pool
 *       longer, never shorter.</li>
 * </ul>
 * Each area is {@link Rseq#registrationLength()} bytes at an address aligned to
 * {@link Rseq#registrationAlign()}, carved from whole pages. The pool grows a page at a time and checks
 * ended threads whenever it needs an area, so threads that forget to unregister leak nothing for long.
 *
 * <p>All methods are thread-safe; registration is rare and takes one lock.
 */
public final class RseqRegistry {
    /** The state of one area of the pool. */
    public enum State {
        /** Not registered: may be handed out. */
        FREE,
        /** Registered for a live thread. */
        REGISTERED,
        /**
         * Registered for a thread that ended without unregistering: out of the pool until its kernel task
         * is gone.
         */
        ENDED
    }

    /**
     * One area that is not free.
     *
     * @param address where the struct rseq starts
     * @param state registered or ended
     * @param tid the kernel task id of the thread that registered it
     * @param thread that thread's name
     */
    public record Entry(long address, State state, int tid, String thread) {
    }

    /**
     * The pool at one moment.
     *
     * @param areaLength the length each registration passes to the kernel
     * @param alignment the alignment of each area
     * @param slotSize bytes between two areas
     * @param pages pages mapped for the pool (never unmapped)
     * @param slots areas those pages hold
     * @param free areas that may be handed out
     * @param registered areas registered for live threads
     * @param ended areas of threads that ended without unregistering, waiting for their task to go
     * @param inUse every area that is not free, by address
     */
    public record Snapshot(int areaLength, int alignment, int slotSize, int pages, int slots, int free,
            int registered, int ended, List<Entry> inUse) {
    }

    /** One area; guarded by {@link #LOCK}. */
    static final class Slot {
        final long address;
        State state = State.FREE;
        Thread thread;
        int tid;
        String threadName;
        final List<RseqView> views = new ArrayList<>();

        Slot(long address) {
            this.address = address;
        }
    }

    private static final Object LOCK = new Object();
    private static final List<Slot> SLOTS = new ArrayList<>();
    private static int pages;
    // Tests replace it to hold a task "alive" after its thread ended.
    static volatile IntPredicate taskExists = Task::exists;

    private RseqRegistry() {
    }

    /**
     * How many areas the kernel may still write: registered for live threads, or for ended threads
     * whose task may not have exited yet. A test or leak check expects 0 once every thread that
     * registered has unregistered.
     *
     * @return areas not free
     */
    public static int registeredCount() {
        synchronized (LOCK) {
            int n = 0;
            for (Slot s : SLOTS) {
                if (s.state != State.FREE) {
                    n++;
                }
            }
            return n;
        }
    }

    /**
     * The pool's state now: sizes, counts, and every area that is not free.
     *
     * @return a snapshot
     */
    public static Snapshot snapshot() {
        synchronized (LOCK) {
            List<Entry> inUse = new ArrayList<>();
            int free = 0;
            int registered = 0;
            int ended = 0;
            for (Slot s : SLOTS) {
                State st = effective(s);
                switch (st) {
                    case FREE -> free++;
                    case REGISTERED -> registered++;
                    case ENDED -> ended++;
                    default -> throw new AssertionError(st);
                }
                if (st != State.FREE) {
                    inUse.add(new Entry(s.address, st, s.tid, s.threadName));
                }
            }
            return new Snapshot(Rseq.registrationLength(), Rseq.registrationAlign(), slotSize(), pages, SLOTS.size(),
                    free, registered, ended, List.copyOf(inUse));
        }
    }

    /**
     * Returns to the pool every area whose thread ended without unregistering and whose kernel task is
     * gone. The pool also does this by itself whenever it needs an area.
     *
     * @return how many areas it freed
     */
    public static int reclaim() {
        synchronized (LOCK) {
            return reclaimLocked();
        }
    }

    /**
     * Takes a free area for the calling thread, zeroed, with cpu_id set to -1 (uninitialised), as
     * librseq leaves a fresh area.
     */
    static Slot acquire(Thread thread, int tid) {
        synchronized (LOCK) {
            reclaimLocked();
            Slot slot = null;
            for (Slot s : SLOTS) {
                if (s.state == State.FREE) {
                    slot = s;
                    break;
                }
            }
            if (slot == null) {
                slot = mapPage();
            }
            // The area is registered with no thread now (free, unregistered, or its task gone): ours to write.
            MemorySegment mem = MemoryCalls.memory(slot.address, slotSize());
            mem.fill((byte) 0);
            mem.set(JAVA_INT, RseqAbi.CPU_ID, RseqAbi.CPU_ID_UNINITIALIZED);
            slot.state = State.REGISTERED;
            slot.thread = thread;
            slot.tid = tid;
            slot.threadName = thread.getName();
            return slot;
        }
    }

    /**
     * Gives an area back: the kernel refused to register it, or its thread unregistered it. Open views
     * are closed first, waiting for reads in progress.
     */
    static void release(Slot slot, RseqAreaGoneException.Reason reason) {
        synchronized (LOCK) {
            free(slot, reason);
        }
    }

    static void track(Slot slot, RseqView view) {
        synchronized (LOCK) {
            slot.views.removeIf(v -> !v.isOpen());
            slot.views.add(view);
        }
    }

    private static State effective(Slot s) {
        return s.state == State.REGISTERED && !s.thread.isAlive() ? State.ENDED : s.state;
    }

    private static int reclaimLocked() {
        int n = 0;
        for (Slot s : SLOTS) {
            if (effective(s) == State.ENDED && !taskExists.test(s.tid)) {
                free(s, RseqAreaGoneException.Reason.THREAD_ENDED);
                n++;
            }
        }
        return n;
    }

    /** Closes the slot's views and marks it free, with no thread. Call with LOCK held. */
    private static void free(Slot slot, RseqAreaGoneException.Reason reason) {
        closeViews(slot, reason);
        slot.state = State.FREE;
        slot.thread = null;
        slot.tid = 0;
        slot.threadName = null;
    }

    private static void closeViews(Slot slot, RseqAreaGoneException.Reason reason) {
        for (RseqView v : slot.views) {
            v.close(reason);
        }
        slot.views.clear();
    }

    private static Slot mapPage() {
        long page = MemoryCalls.pageSize();
        long base = MemoryCalls.mmap(0, page, MemoryCalls.PROT_READ | MemoryCalls.PROT_WRITE, MemoryCalls.MAP_PRIVATE | MemoryCalls.MAP_ANONYMOUS, -1, 0);
        pages++;
        int size = slotSize();
        Slot first = null;
        for (long off = 0; off + size <= page; off += size) {
            Slot s = new Slot(base + off);
            SLOTS.add(s);
            if (first == null) {
                first = s;
            }
        }
        return first;
    }

    private static int slotSize() {
        int align = Rseq.registrationAlign();
        return (Rseq.registrationLength() + align - 1) / align * align;
    }
}
