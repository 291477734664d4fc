package dev.pkrseq.rseq;

import dev.pkrseq.UnavailableException;
import dev.pkrseq.VirtualThreadException;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.lang.ref.Reference;
import java.util.Objects;
import java.util.Optional;

import dev.pkrseq.sys.Syscall;

/**
 * librseq's seven rseq critical-section primitives, from Java, over per-CPU memory: each one a few
 * instructions of generated x86_64 code with its own {@code struct rseq_cs}, called through a critical
 * downcall. Build per-CPU data structures on them (the {@code dev.pkrseq.rseq.percpu} package does).
 *
 * <p><b>Per-CPU operands.</b> A per-CPU datum has one copy per CPU (or per mm_cid), {@link #stride()} bytes
 * apart: a {@link PerCpuPool} allocation. An operation takes the segment that starts at CPU 0's copy and
 * spans every copy ({@link PerCpuPool.Item#percpu()}, or any native segment of at least
 * {@link #span(long)} bytes), reads the index of the CPU it runs on <em>inside</em> its critical section,
 * and works on that CPU's copy: the caller does not need to know the CPU, and cannot get it wrong. Values
 * the caller compares against are best read from the copy of {@link #currentIndex()}; if the section runs
 * elsewhere the comparison fails (or, if it holds there too, the operation is just as right there), and
 * the result names the index it ran on.
 *
 * <p><b>Results.</b> Every operation returns a {@code long}: {@code >= 0} is success (the index the
 * section ran on; for {@link #takeAndFollow} the pointer taken); a negative value is a failure, decoded by
 * {@link #status(long)} and {@link #index(long)}, and nothing was committed:
 * <ul>
 *   <li>{@link Status#COMPARISON_FAILED}: a comparison did not hold (librseq's 1): read again, retry;</li>
 *   <li>{@link Status#ABORTED}: the kernel aborted the section (preemption, migration, signal; librseq's
 *       -1): retry;</li>
 *   <li>{@link Status#NO_SLOT}: the thread's struct rseq gave no usable index (not registered, or beyond
 *       {@link #slots()}); the code touched nothing;</li>
 *   <li>{@link Status#BAD_POINTER}: {@link #takeAndFollow} or {@link #addIndirect} was to follow a pointer
 *       outside the region the caller allowed; the code touched nothing.</li>
 * </ul>
 *
 * <p><b>Memory safety.</b> The code writes only inside the segments passed, and follows pointers only into
 * the regions passed, checking both inside the section: a wrong value in per-CPU data fails with
 * {@link Status#BAD_POINTER} instead of crashing the JVM. Segments are passed to the downcall as
 * addresses, so the linker keeps their memory alive during the call: a segment of a shared arena cannot be
 * closed under a running section (the linker then updates the arena's shared count on every call, an atomic
 * on a line all CPUs share: use automatic or global memory, as {@link PerCpuPool} does, where that matters).
 *
 * <p><b>Memory order.</b> On x86-TSO every store is a release store and every load an acquire load, so the
 * {@link Order#RELEASE} forms librseq offers for {@link #compareStoreAndStore} and the copies are the same
 * machine code as the {@link Order#RELAXED} ones; the release form adds a {@link VarHandle#releaseFence()}
 * before the call, which orders the caller's earlier Java stores for the JIT (no instruction on x86), as it
 * would be needed on another architecture.
 *
 * <p><b>Registration and index.</b> The variant is chosen when the object is made, from the constructing
 * thread: where glibc registered threads, the code finds glibc's struct rseq at {@code %fs:__rseq_offset}
 * itself (virtual threads work: they use their carrier's); otherwise each platform thread's own area from
 * pkrseq's registration is passed in ({@link Rseq#ensureRegistered()} on a thread's first call; virtual
 * threads are refused). {@link Index#MM_CID} needs a registration that covers mm_cid: on glibc 2.35 to
 * 2.40, whose {@code __rseq_size} is 20, that means pkrseq's own, so a JVM with glibc's registration refuses
 * it ({@link UnavailableException} with {@link UnavailableException.Feature#MM_CID}); run with {@code GLIBC_TUNABLES=glibc.pthread.rseq=0}.
 *
 * <p>Thread-safe; allocation-free. The default stride ({@link #DEFAULT_STRIDE}) runs the process-wide code
 * page through static final handles (a critical downcall, about 3 ns here); other strides and
 * {@link DelayInjection}s map their own page, called through non-constant handles (slower: for
 * experiments), unmapped once the object is unreachable.
 */
public final class PerCpuOps {
    /** The stride of the process-wide code and of {@link PerCpuPool}'s default: 64 KiB. */
    public static final long DEFAULT_STRIDE = RseqCode.DEFAULT_STRIDE;
    /** The longest copy a copy primitive makes, as librseq limits it: 4 KiB keeps a section short. */
    public static final long MAX_COPY = 4096;

    /** Which struct rseq field indexes the per-CPU data. */
    public enum Index {
        /** {@code cpu_id}: one copy per possible CPU. */
        CPU_ID,
        /**
         * {@code mm_cid} (Linux 6.3+): a concurrency id, dense per process, below min(threads, CPUs); fewer
         * copies are hot than with {@code cpu_id} when the process runs on few CPUs of a big machine.
         */
        MM_CID
    }

    /** The memory order of the final store, for the primitives librseq offers both for. */
    public enum Order {
        /** No ordering beyond the section's own. */
        RELAXED,
        /** Earlier stores are visible before the final store: the same code on x86-TSO, see the class comment. */
        RELEASE
    }

    /** What a result says. */
    public enum Status {
        /** Committed. */
        OK,
        /** A comparison did not hold; nothing was committed. */
        COMPARISON_FAILED,
        /** The kernel aborted the section; nothing was committed. */
        ABORTED,
        /** No usable index (not registered, or no slot); nothing was touched. */
        NO_SLOT,
        /** A pointer to follow was outside its region; nothing was touched. */
        BAD_POINTER
    }

    private final RseqCode code;
    private final boolean shared;
    private final boolean tp;
    private final boolean cid;
    private final Index index;
    private final Owner owner;
    private final long stride;
    private final int slots;
    // The handles of a page of its own, by primitive; null for the process-wide page's static handles.
    private final MethodHandle[] own;
    // Run before every section of a page of its own (param_test's C-level injection point 9); may be null.
    private final Runnable beforeEachSection;

    private PerCpuOps(Index index, RseqCode code, boolean shared) {
        this(index, code, shared, chooseOwner(index), null);
    }

    private PerCpuOps(Index index, RseqCode code, boolean shared, Owner owner, Runnable beforeEachSection) {
        this.index = Objects.requireNonNull(index);
        this.owner = owner;
        this.beforeEachSection = beforeEachSection;
        this.code = code;
        this.shared = shared;
        this.tp = owner == Owner.GLIBC;
        this.cid = index == Index.MM_CID;
        this.stride = code.config().stride();
        this.slots = code.config().slots();
        if (tp && code.config().rseqOffset().isEmpty()) {
            throw new IllegalStateException("the code has no tp functions: glibc exports no usable __rseq_offset");
        }
        if (shared) {
            own = null;
        } else {
            own = new MethodHandle[RseqCode.Primitive.values().length];
            for (RseqCode.Primitive p : RseqCode.Primitive.values()) {
                own[p.ordinal()] = code.handle(p, tp ? RseqCode.Where.TP : RseqCode.Where.AREA, index);
            }
        }
    }

    /**
     * The primitives indexed by {@code cpu_id}, at the default stride.
     *
     * @return the operations
     * @throws UnavailableException on an architecture other than x86_64, or without rseq
     */
    public static PerCpuOps cpuId() {
        return of(Index.CPU_ID);
    }

    /**
     * The primitives at the default stride, on the process-wide code page (mapped on first use).
     *
     * @param index {@code cpu_id} or {@code mm_cid}
     * @return the operations
     * @throws UnavailableException on an architecture other than x86_64, or without rseq
     * @throws UnavailableException ({@link UnavailableException.Feature#MM_CID}) for {@link Index#MM_CID} where the registration does not cover it
     */
    public static PerCpuOps of(Index index) {
        chooseOwner(index);
        return new PerCpuOps(index, RseqCode.Shared.CODE, true);
    }

    /**
     * The primitives on a code page of their own: another stride, or injected delays (as the kernel's
     * param_test injects them). The page is unmapped once this object is unreachable; its code stores 0
     * into {@code rseq_cs} on every way out, so no thread's struct rseq points into it afterwards.
     *
     * @param index {@code cpu_id} or {@code mm_cid}
     * @param stride bytes between two CPUs' copies, a power of two from 8 to 2^30
     * @param delays spin loops compiled in at param_test's injection points
     * @return the operations
     * @throws UnavailableException on an architecture other than x86_64, or without rseq
     * @throws UnavailableException ({@link UnavailableException.Feature#MM_CID}) for {@link Index#MM_CID} where the registration does not cover it
     */
    public static PerCpuOps of(Index index, long stride, DelayInjection delays) {
        return of(index, stride, delays, null);
    }

    /**
     * The primitives on a code page of their own, with Java code run before every section: param_test's
     * C-level injection point 9 ({@code RSEQ_INJECT_C(9)}, at the start of every librseq helper), for
     * delays, yields or signals that land just before a section starts.
     *
     * @param index {@code cpu_id} or {@code mm_cid}
     * @param stride bytes between two CPUs' copies, a power of two from 8 to 2^30
     * @param delays spin loops compiled in at param_test's injection points 1 to 6
     * @param beforeEachSection run on the calling thread before every call into the code, or null
     * @return the operations
     * @throws UnavailableException on an architecture other than x86_64, or without rseq
     * @throws UnavailableException ({@link UnavailableException.Feature#MM_CID}) for {@link Index#MM_CID} where the registration does not cover it
     */
    public static PerCpuOps of(Index index, long stride, DelayInjection delays, Runnable beforeEachSection) {
        Owner owner = chooseOwner(index);
        RseqCode.Config c = new RseqCode.Config(stride, RseqCode.possibleCpus(), RseqCode.usableGlibcOffset(),
                Objects.requireNonNull(delays), true);
        return new PerCpuOps(index, RseqCode.map(c), false, owner, beforeEachSection);
    }

    /** Over a page built elsewhere (tests: a widened page, a page whose arming was taken out). */
    static PerCpuOps over(Index index, RseqCode code) {
        return new PerCpuOps(index, code, false);
    }

    /** Over a page built elsewhere, with Java run before each section (tests: the broken twins of param_test). */
    static PerCpuOps over(Index index, RseqCode code, Runnable beforeEachSection) {
        return new PerCpuOps(index, code, false, chooseOwner(index), beforeEachSection);
    }

    /**
     * Over a page built elsewhere, with the variant forced (tests: the area functions given glibc's own area,
     * in a JVM where glibc registered the threads).
     */
    static PerCpuOps over(Index index, RseqCode code, Owner owner) {
        if (owner != Owner.GLIBC && owner != Owner.PKRSEQ) {
            throw new IllegalArgumentException("owner must be glibc or pkrseq, not " + owner);
        }
        chooseOwner(index);
        return new PerCpuOps(index, code, false, owner, null);
    }

    // ---- The primitives ------------------------------------------------------------------------

    /**
     * {@code rseq_load_cbne_store}: on this CPU's copy of {@code v}, if it holds {@code expected}, stores
     * {@code newValue} (the commit).
     *
     * @param v a per-CPU word: CPU 0's copy, spanning every copy ({@link #span(long) span(8)})
     * @param expected the value the copy must hold
     * @param newValue the value to store
     * @return the index on success; else a failure: COMPARISON_FAILED (with the index it ran on), ABORTED,
     *     NO_SLOT
     * @throws IllegalArgumentException when {@code v} is not a native, 8-byte aligned segment of the span
     */
    public long compareAndStore(MemorySegment v, long expected, long newValue) {
        requirePerCpu(v, 8, "v");
        try {
            if (shared) {
                if (tp) {
                    return cid ? (long) RseqCode.Shared.CAS_TP_CID.invokeExact(v, expected, newValue)
                            : (long) RseqCode.Shared.CAS_TP_CPU.invokeExact(v, expected, newValue);
                }
                long a = area();
                return cid ? (long) RseqCode.Shared.CAS_AREA_CID.invokeExact(v, expected, newValue, a)
                        : (long) RseqCode.Shared.CAS_AREA_CPU.invokeExact(v, expected, newValue, a);
            }
            before();
            MethodHandle h = own[RseqCode.Primitive.COMPARE_AND_STORE.ordinal()];
            return tp ? (long) h.invokeExact(v, expected, newValue) : (long) h.invokeExact(v, expected, newValue, area());
        } catch (Throwable t) {
            throw rethrow(t);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * {@code rseq_load_add_store}: adds {@code count} to this CPU's copy of {@code v}; the add (one
     * memory-destination instruction) is the commit.
     *
     * @param v a per-CPU word, spanning every copy
     * @param count the amount, which may be negative
     * @return the index on success; else ABORTED or NO_SLOT
     * @throws IllegalArgumentException when {@code v} is not a native, 8-byte aligned segment of the span
     */
    public long add(MemorySegment v, long count) {
        requirePerCpu(v, 8, "v");
        return addUnchecked(v, count);
    }

    /** {@link #add} for callers that allocated {@code v} themselves (the counter): no span check. */
    long addUnchecked(MemorySegment v, long count) {
        try {
            if (shared) {
                if (tp) {
                    return cid ? (long) RseqCode.Shared.ADD_TP_CID.invokeExact(v, count)
                            : (long) RseqCode.Shared.ADD_TP_CPU.invokeExact(v, count);
                }
                long a = area();
                return cid ? (long) RseqCode.Shared.ADD_AREA_CID.invokeExact(v, count, a)
                        : (long) RseqCode.Shared.ADD_AREA_CPU.invokeExact(v, count, a);
            }
            before();
            MethodHandle h = own[RseqCode.Primitive.ADD.ordinal()];
            return tp ? (long) h.invokeExact(v, count) : (long) h.invokeExact(v, count, area());
        } catch (Throwable t) {
            throw rethrow(t);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * A bulk {@code rseq_load_add_store}: adds {@code deltas[i]} to word {@code i} of this CPU's copy of
     * {@code v}, for {@code i} from 0 to {@code count - 1}, each word in a critical section of its own, all in
     * one call: the call's fixed cost (a critical downcall, about 3 ns) is paid once for the lot, as a batch
     * amortises it. The adds are not atomic together: a reader may see some before others, and the words may
     * land on different CPUs' copies if the thread migrates between them; each add is exact on its own.
     * An aborted section is made again inside the call; after 100 aborts in a row the call returns to Java
     * and is made again for the words left (counted in the return value's restarts, not visible here).
     *
     * @param v per-CPU memory of at least {@code count} words, spanning every copy ({@link #span(long)
     *     span(8 × count)})
     * @param deltas {@code count} longs
     * @param count words to add to, at least 1
     * @return the index of the last section on success; else NO_SLOT
     * @throws IllegalArgumentException when a segment is not native, aligned or long enough, or count &lt; 1
     */
    public long addAll(MemorySegment v, MemorySegment deltas, int count) {
        if (count < 1) {
            throw new IllegalArgumentException("count must be at least 1, not " + count);
        }
        requirePerCpu(v, 8L * count, "v");
        requirePlain(deltas, 8L * count, "deltas");
        long done = 0;
        for (;;) {
            long r = addAllOnce(done == 0 ? v : v.asSlice(8 * done), done == 0 ? deltas : deltas.asSlice(8 * done),
                    count - done);
            if (r >= 0 || status(r) != Status.ABORTED) {
                return r;
            }
            done = count - index(r);
        }
    }

    private long addAllOnce(MemorySegment v, MemorySegment deltas, long count) {
        try {
            if (shared) {
                if (tp) {
                    return cid ? (long) RseqCode.Shared.ADDALL_TP_CID.invokeExact(v, deltas, count)
                            : (long) RseqCode.Shared.ADDALL_TP_CPU.invokeExact(v, deltas, count);
                }
                long a = area();
                return cid ? (long) RseqCode.Shared.ADDALL_AREA_CID.invokeExact(v, deltas, count, a)
                        : (long) RseqCode.Shared.ADDALL_AREA_CPU.invokeExact(v, deltas, count, a);
            }
            before();
            MethodHandle h = own[RseqCode.Primitive.ADD_ALL.ordinal()];
            return tp ? (long) h.invokeExact(v, deltas, count) : (long) h.invokeExact(v, deltas, count, area());
        } catch (Throwable t) {
            throw rethrow(t);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * {@code rseq_load_cbeq_store_add_load_store}, the pop of a linked stack: on this CPU's copy of
     * {@code v}, unless it holds {@code sentinel}, takes the pointer {@code p} it holds and replaces it with
     * the word at {@code p + linkOffset} (the commit). The section checks that this word lies inside
     * {@code region} before it reads it.
     *
     * @param v a per-CPU word holding a pointer (a stack's head), spanning every copy
     * @param sentinel the value meaning "nothing to take", usually 0
     * @param linkOffset where the next pointer lies in what {@code p} points to
     * @param region the memory {@code p + linkOffset} must lie in (the nodes), at least 8 bytes
     * @return the pointer taken ({@code >= 0}) on success; else COMPARISON_FAILED (the copy held the
     *     sentinel: empty), ABORTED, NO_SLOT, BAD_POINTER
     * @throws IllegalArgumentException when a segment is not native, aligned or long enough
     */
    public long takeAndFollow(MemorySegment v, long sentinel, long linkOffset, MemorySegment region) {
        requirePerCpu(v, 8, "v");
        long limit = requireRegion(region, "region");
        try {
            if (shared) {
                if (tp) {
                    return cid ? (long) RseqCode.Shared.TAKE_TP_CID.invokeExact(v, sentinel, linkOffset, region, limit)
                            : (long) RseqCode.Shared.TAKE_TP_CPU.invokeExact(v, sentinel, linkOffset, region, limit);
                }
                long a = area();
                return cid ? (long) RseqCode.Shared.TAKE_AREA_CID.invokeExact(v, sentinel, linkOffset, region, limit, a)
                        : (long) RseqCode.Shared.TAKE_AREA_CPU.invokeExact(v, sentinel, linkOffset, region, limit, a);
            }
            before();
            MethodHandle h = own[RseqCode.Primitive.TAKE_AND_FOLLOW.ordinal()];
            return tp ? (long) h.invokeExact(v, sentinel, linkOffset, region, limit)
                    : (long) h.invokeExact(v, sentinel, linkOffset, region, limit, area());
        } catch (Throwable t) {
            throw rethrow(t);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * The push of a linked stack, in one section: on this CPU's copy of {@code v} (the head), loads the head,
     * stores it into {@code node}'s next pointer (a speculative store) and stores {@code node} as the head (the
     * commit). The section checks that the next pointer lies in {@code region} first. librseq's param_test
     * pushes with {@code load_cbne_store} after reading the head in C (one TLS load); from Java that read
     * needs the CPU, a {@code ThreadLocal} lookup, so this section reads the head itself: one call, and no
     * comparison that can fail.
     *
     * @param v a per-CPU word holding a stack's head, spanning every copy
     * @param node the node to push; in no stack
     * @param linkOffset where the next pointer lies in a node
     * @param region the memory the node's next pointer must lie in, at least 8 bytes
     * @return the index of the stack it went onto on success; else ABORTED, NO_SLOT, BAD_POINTER
     * @throws IllegalArgumentException when a segment is not native, aligned or long enough
     */
    public long pushLink(MemorySegment v, long node, long linkOffset, MemorySegment region) {
        requirePerCpu(v, 8, "v");
        long limit = requireRegion(region, "region");
        try {
            if (shared) {
                if (tp) {
                    return cid ? (long) RseqCode.Shared.PUSH_TP_CID.invokeExact(v, node, linkOffset, region, limit)
                            : (long) RseqCode.Shared.PUSH_TP_CPU.invokeExact(v, node, linkOffset, region, limit);
                }
                long a = area();
                return cid ? (long) RseqCode.Shared.PUSH_AREA_CID.invokeExact(v, node, linkOffset, region, limit, a)
                        : (long) RseqCode.Shared.PUSH_AREA_CPU.invokeExact(v, node, linkOffset, region, limit, a);
            }
            before();
            MethodHandle h = own[RseqCode.Primitive.PUSH_LINK.ordinal()];
            return tp ? (long) h.invokeExact(v, node, linkOffset, region, limit)
                    : (long) h.invokeExact(v, node, linkOffset, region, limit, area());
        } catch (Throwable t) {
            throw rethrow(t);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * A bulk {@link #takeAndFollow} with the sentinel 0: pops up to {@code max} nodes of a linked stack, each
     * in a critical section of its own, all in one call (one critical downcall for the lot, as tcmalloc moves
     * objects between its per-CPU caches in batches), and writes the pointers taken to {@code out}. It stops
     * early when the stack of the CPU it runs on is empty. An aborted section ends the call, and Java calls
     * again for the nodes left; the nodes may come from different CPUs' stacks if the thread migrates.
     *
     * @param v a per-CPU word holding a stack's head, spanning every copy
     * @param linkOffset where the next pointer lies in a node
     * @param region the memory every node's next pointer must lie in, at least 8 bytes
     * @param out room for {@code max} pointers
     * @param max nodes to pop at most, at least 1
     * @return the number of nodes taken ({@code >= 0}, into {@code out[0..n)}); else NO_SLOT or BAD_POINTER,
     *     whose {@link #index(long)} is the number taken before it
     * @throws IllegalArgumentException when a segment is not native, aligned or long enough, or max &lt; 1
     */
    public long popAll(MemorySegment v, long linkOffset, MemorySegment region, MemorySegment out, int max) {
        if (max < 1) {
            throw new IllegalArgumentException("max must be at least 1, not " + max);
        }
        requirePerCpu(v, 8, "v");
        long limit = requireRegion(region, "region");
        requireWord(out, "out");
        requirePlain(out, 8L * max, "out");
        return stackBulk(true, v, out, linkOffset, region, limit, max);
    }

    /**
     * A bulk push of a linked stack: pushes {@code count} nodes, each in a critical section of its own that
     * loads the head of the CPU it runs on, stores it into the node's next pointer and stores the node as the
     * head (the commit), all in one call. The pointers to push are read from {@code nodes}; each node's next
     * pointer must lie in {@code region}, checked inside the section. An aborted section ends the call, and
     * Java calls again for the nodes left.
     *
     * @param v a per-CPU word holding a stack's head, spanning every copy
     * @param nodes {@code count} pointers to push, in order
     * @param linkOffset where the next pointer lies in a node
     * @param region the memory every node's next pointer must lie in, at least 8 bytes
     * @param count nodes to push, at least 1
     * @return {@code >= 0} when every node was pushed; else NO_SLOT or BAD_POINTER, whose {@link #index(long)} is
     *     the number pushed before it
     * @throws IllegalArgumentException when a segment is not native, aligned or long enough, or count &lt; 1
     */
    public long pushAll(MemorySegment v, MemorySegment nodes, long linkOffset, MemorySegment region, int count) {
        if (count < 1) {
            throw new IllegalArgumentException("count must be at least 1, not " + count);
        }
        requirePerCpu(v, 8, "v");
        long limit = requireRegion(region, "region");
        requirePlain(nodes, 8L * count, "nodes");
        long r = stackBulk(false, v, nodes, linkOffset, region, limit, count);
        return r >= 0 ? 0 : r;
    }

    /**
     * The bulk pop or push, called again after every abort for the nodes left (the code returns on an abort,
     * the count left in its result).
     *
     * @param pointers where the pointers popped go, or those to push come from
     * @return the nodes popped or pushed ({@code >= 0}); else a failure whose index is the number before it
     */
    private long stackBulk(boolean pop, MemorySegment v, MemorySegment pointers, long linkOffset, MemorySegment region,
            long limit, int count) {
        long done = 0;
        long left = count;
        for (;;) {
            MemorySegment rest = done == 0 ? pointers : pointers.asSlice(8 * done);
            long r = pop ? popAllOnce(v, linkOffset, region, limit, rest, left)
                    : pushAllOnce(v, rest, linkOffset, region, limit, left);
            if (r >= 0) {
                // r is the nodes not taken when a pop found the stack empty; a push returns 0.
                return done + left - r;
            }
            long nowLeft = (~r) >>> 8;
            done += left - nowLeft;
            left = nowLeft;
            if (status(r) != Status.ABORTED) {
                return ~(done << 8 | (~r & 0xff));
            }
            if (left == 0) {
                return done;
            }
        }
    }

    private long popAllOnce(MemorySegment v, long offset, MemorySegment region, long limit, MemorySegment out, long n) {
        try {
            if (shared) {
                if (tp) {
                    return cid ? (long) RseqCode.Shared.POPALL_TP_CID.invokeExact(v, offset, region, limit, out, n)
                            : (long) RseqCode.Shared.POPALL_TP_CPU.invokeExact(v, offset, region, limit, out, n);
                }
                long a = area();
                return cid ? (long) RseqCode.Shared.POPALL_AREA_CID.invokeExact(v, offset, region, limit, out, n, a)
                        : (long) RseqCode.Shared.POPALL_AREA_CPU.invokeExact(v, offset, region, limit, out, n, a);
            }
            before();
            MethodHandle h = own[RseqCode.Primitive.POP_ALL.ordinal()];
            return tp ? (long) h.invokeExact(v, offset, region, limit, out, n)
                    : (long) h.invokeExact(v, offset, region, limit, out, n, area());
        } catch (Throwable t) {
            throw rethrow(t);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    private long pushAllOnce(MemorySegment v, MemorySegment nodes, long offset, MemorySegment region, long limit, long n) {
        try {
            if (shared) {
                if (tp) {
                    return cid ? (long) RseqCode.Shared.PUSHALL_TP_CID.invokeExact(v, nodes, offset, region, limit, n)
                            : (long) RseqCode.Shared.PUSHALL_TP_CPU.invokeExact(v, nodes, offset, region, limit, n);
                }
                long a = area();
                return cid ? (long) RseqCode.Shared.PUSHALL_AREA_CID.invokeExact(v, nodes, offset, region, limit, n, a)
                        : (long) RseqCode.Shared.PUSHALL_AREA_CPU.invokeExact(v, nodes, offset, region, limit, n, a);
            }
            before();
            MethodHandle h = own[RseqCode.Primitive.PUSH_ALL.ordinal()];
            return tp ? (long) h.invokeExact(v, nodes, offset, region, limit, n)
                    : (long) h.invokeExact(v, nodes, offset, region, limit, n, area());
        } catch (Throwable t) {
            throw rethrow(t);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * {@code rseq_load_add_load_load_add_store}: follows a shared pointer to per-CPU data and adds through
     * it: {@code r1 = *ptr + offset + index × stride}; {@code r2 = *r1}; {@code *r2 += count} (the commit).
     * {@code ptr} itself is not per-CPU (the membarrier test swaps it between two per-CPU lists); the
     * section checks {@code r1} against {@code entries} and {@code r2} against {@code targets} before it
     * reads through them.
     *
     * @param ptr a word holding the address of CPU 0's entry
     * @param offset added to it (with {@code index × stride})
     * @param count the amount added to the target
     * @param entries the memory {@code r1} must lie in (every copy of every entry)
     * @param targets the memory {@code r2} must lie in (the counters pointed to)
     * @return the index on success; else ABORTED, NO_SLOT, BAD_POINTER
     * @throws IllegalArgumentException when a segment is not native, aligned or long enough
     */
    public long addIndirect(MemorySegment ptr, long offset, long count, MemorySegment entries, MemorySegment targets) {
        requireWord(ptr, "ptr");
        long limit1 = requireRegion(entries, "entries");
        long limit2 = requireRegion(targets, "targets");
        try {
            if (shared) {
                if (tp) {
                    return cid
                            ? (long) RseqCode.Shared.ADDIND_TP_CID.invokeExact(ptr, offset, count, entries, limit1, targets,
                                    limit2)
                            : (long) RseqCode.Shared.ADDIND_TP_CPU.invokeExact(ptr, offset, count, entries, limit1, targets,
                                    limit2);
                }
                long a = area();
                return cid
                        ? (long) RseqCode.Shared.ADDIND_AREA_CID.invokeExact(ptr, offset, count, entries, limit1, targets,
                                limit2, a)
                        : (long) RseqCode.Shared.ADDIND_AREA_CPU.invokeExact(ptr, offset, count, entries, limit1, targets,
                                limit2, a);
            }
            before();
            MethodHandle h = own[RseqCode.Primitive.ADD_INDIRECT.ordinal()];
            return tp ? (long) h.invokeExact(ptr, offset, count, entries, limit1, targets, limit2)
                    : (long) h.invokeExact(ptr, offset, count, entries, limit1, targets, limit2, area());
        } catch (Throwable t) {
            throw rethrow(t);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * {@code rseq_load_cbne_load_cbne_store}: if this CPU's copy of {@code v} holds {@code expected} and its
     * copy of {@code v2} holds {@code expected2}, stores {@code newValue} into {@code v} (the commit).
     *
     * @param v a per-CPU word, spanning every copy
     * @param expected the value {@code v}'s copy must hold
     * @param v2 a second per-CPU word, spanning every copy
     * @param expected2 the value {@code v2}'s copy must hold
     * @param newValue the value to store into {@code v}
     * @return the index on success; else COMPARISON_FAILED, ABORTED, NO_SLOT
     * @throws IllegalArgumentException when a segment is not native, aligned or long enough
     */
    public long compareBothAndStore(MemorySegment v, long expected, MemorySegment v2, long expected2, long newValue) {
        requirePerCpu(v, 8, "v");
        requirePerCpu(v2, 8, "v2");
        try {
            if (shared) {
                if (tp) {
                    return cid ? (long) RseqCode.Shared.CAS2_TP_CID.invokeExact(v, expected, v2, expected2, newValue)
                            : (long) RseqCode.Shared.CAS2_TP_CPU.invokeExact(v, expected, v2, expected2, newValue);
                }
                long a = area();
                return cid ? (long) RseqCode.Shared.CAS2_AREA_CID.invokeExact(v, expected, v2, expected2, newValue, a)
                        : (long) RseqCode.Shared.CAS2_AREA_CPU.invokeExact(v, expected, v2, expected2, newValue, a);
            }
            before();
            MethodHandle h = own[RseqCode.Primitive.COMPARE_BOTH_AND_STORE.ordinal()];
            return tp ? (long) h.invokeExact(v, expected, v2, expected2, newValue)
                    : (long) h.invokeExact(v, expected, v2, expected2, newValue, area());
        } catch (Throwable t) {
            throw rethrow(t);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * {@code rseq_load_cbne_store_store}: if this CPU's copy of {@code v} holds {@code expected}, stores
     * {@code newValue2} into its copy of {@code v2} (a speculative store: readers that follow {@code v} see
     * it only once the commit is made) and then {@code newValue} into {@code v} (the commit). A ring
     * buffer's push: the item, then the index that publishes it.
     *
     * @param v a per-CPU word, spanning every copy
     * @param expected the value {@code v}'s copy must hold
     * @param v2 a second per-CPU word, spanning every copy
     * @param newValue2 the value to store into {@code v2}
     * @param newValue the value to store into {@code v}
     * @param order {@link Order#RELEASE} to order the caller's earlier stores before the commit
     * @return the index on success; else COMPARISON_FAILED, ABORTED, NO_SLOT
     * @throws IllegalArgumentException when a segment is not native, aligned or long enough
     */
    public long compareStoreAndStore(MemorySegment v, long expected, MemorySegment v2, long newValue2, long newValue,
            Order order) {
        requirePerCpu(v, 8, "v");
        requirePerCpu(v2, 8, "v2");
        if (order == Order.RELEASE) {
            VarHandle.releaseFence();
        }
        try {
            if (shared) {
                if (tp) {
                    return cid ? (long) RseqCode.Shared.CASST_TP_CID.invokeExact(v, expected, v2, newValue2, newValue)
                            : (long) RseqCode.Shared.CASST_TP_CPU.invokeExact(v, expected, v2, newValue2, newValue);
                }
                long a = area();
                return cid ? (long) RseqCode.Shared.CASST_AREA_CID.invokeExact(v, expected, v2, newValue2, newValue, a)
                        : (long) RseqCode.Shared.CASST_AREA_CPU.invokeExact(v, expected, v2, newValue2, newValue, a);
            }
            before();
            MethodHandle h = own[RseqCode.Primitive.COMPARE_STORE_AND_STORE.ordinal()];
            return tp ? (long) h.invokeExact(v, expected, v2, newValue2, newValue)
                    : (long) h.invokeExact(v, expected, v2, newValue2, newValue, area());
        } catch (Throwable t) {
            throw rethrow(t);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * {@code rseq_load_cbne_memcpy_store}, copying <em>into</em> per-CPU memory: if this CPU's copy of
     * {@code v} holds {@code expected}, copies {@code length} bytes from {@code src} into this CPU's copy of
     * {@code dst} (speculative), then stores {@code newValue} into {@code v} (the commit). A ring buffer's
     * push of a fixed-size item.
     *
     * @param v a per-CPU word, spanning every copy
     * @param expected the value {@code v}'s copy must hold
     * @param dst per-CPU memory, spanning every copy ({@link #span(long) span(length)})
     * @param src the bytes to copy, at least {@code length}
     * @param length bytes to copy, 0 to {@link #MAX_COPY}
     * @param newValue the value to store into {@code v}
     * @param order {@link Order#RELEASE} to order the caller's earlier stores before the commit
     * @return the index on success; else COMPARISON_FAILED, ABORTED, NO_SLOT
     * @throws IllegalArgumentException when a segment is not native, aligned or long enough, or the length
     *     is out of range
     */
    public long compareCopyInAndStore(MemorySegment v, long expected, MemorySegment dst, MemorySegment src, long length,
            long newValue, Order order) {
        requirePerCpu(v, 8, "v");
        requireLength(length);
        requirePerCpu(dst, length, "dst");
        requirePlain(src, length, "src");
        if (order == Order.RELEASE) {
            VarHandle.releaseFence();
        }
        return copy(RseqCode.Primitive.COMPARE_COPY_IN_AND_STORE, v, expected, dst, src, length, newValue);
    }

    /**
     * {@code rseq_load_cbne_memcpy_store}, copying <em>out of</em> per-CPU memory: if this CPU's copy of
     * {@code v} holds {@code expected}, copies {@code length} bytes from this CPU's copy of {@code src} into
     * {@code dst}, then stores {@code newValue} into {@code v} (the commit). A ring buffer's pop of a
     * fixed-size item. On failure {@code dst} may hold a partial copy.
     *
     * @param v a per-CPU word, spanning every copy
     * @param expected the value {@code v}'s copy must hold
     * @param dst where the bytes go, at least {@code length}
     * @param src per-CPU memory, spanning every copy ({@link #span(long) span(length)})
     * @param length bytes to copy, 0 to {@link #MAX_COPY}
     * @param newValue the value to store into {@code v}
     * @param order {@link Order#RELEASE} to order the caller's earlier stores before the commit
     * @return the index on success; else COMPARISON_FAILED, ABORTED, NO_SLOT
     * @throws IllegalArgumentException when a segment is not native, aligned or long enough, or the length
     *     is out of range
     */
    public long compareCopyOutAndStore(MemorySegment v, long expected, MemorySegment dst, MemorySegment src, long length,
            long newValue, Order order) {
        requirePerCpu(v, 8, "v");
        requireLength(length);
        requirePlain(dst, length, "dst");
        requirePerCpu(src, length, "src");
        if (order == Order.RELEASE) {
            VarHandle.releaseFence();
        }
        return copy(RseqCode.Primitive.COMPARE_COPY_OUT_AND_STORE, v, expected, dst, src, length, newValue);
    }

    private long copy(RseqCode.Primitive p, MemorySegment v, long expected, MemorySegment dst, MemorySegment src,
            long length, long newValue) {
        boolean in = p == RseqCode.Primitive.COMPARE_COPY_IN_AND_STORE;
        try {
            if (shared) {
                if (tp) {
                    if (in) {
                        return cid ? (long) RseqCode.Shared.CPIN_TP_CID.invokeExact(v, expected, dst, src, length, newValue)
                                : (long) RseqCode.Shared.CPIN_TP_CPU.invokeExact(v, expected, dst, src, length, newValue);
                    }
                    return cid ? (long) RseqCode.Shared.CPOUT_TP_CID.invokeExact(v, expected, dst, src, length, newValue)
                            : (long) RseqCode.Shared.CPOUT_TP_CPU.invokeExact(v, expected, dst, src, length, newValue);
                }
                long a = area();
                if (in) {
                    return cid ? (long) RseqCode.Shared.CPIN_AREA_CID.invokeExact(v, expected, dst, src, length, newValue, a)
                            : (long) RseqCode.Shared.CPIN_AREA_CPU.invokeExact(v, expected, dst, src, length, newValue, a);
                }
                return cid ? (long) RseqCode.Shared.CPOUT_AREA_CID.invokeExact(v, expected, dst, src, length, newValue, a)
                        : (long) RseqCode.Shared.CPOUT_AREA_CPU.invokeExact(v, expected, dst, src, length, newValue, a);
            }
            before();
            MethodHandle h = own[p.ordinal()];
            return tp ? (long) h.invokeExact(v, expected, dst, src, length, newValue)
                    : (long) h.invokeExact(v, expected, dst, src, length, newValue, area());
        } catch (Throwable t) {
            throw rethrow(t);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    // ---- Results -------------------------------------------------------------------------------

    /**
     * Whether a result is a success.
     *
     * @param result what an operation returned
     * @return {@code result >= 0}
     */
    public static boolean succeeded(long result) {
        return result >= 0;
    }

    /**
     * What a result says.
     *
     * @param result what an operation returned
     * @return its status
     */
    public static Status status(long result) {
        if (result >= 0) {
            return Status.OK;
        }
        int c = (int) (~result & 0xff);
        return switch (c) {
            case RseqCode.CMP_FAILED -> Status.COMPARISON_FAILED;
            case RseqCode.ABORTED -> Status.ABORTED;
            case RseqCode.NO_SLOT -> Status.NO_SLOT;
            case RseqCode.BAD_POINTER -> Status.BAD_POINTER;
            default -> throw new IllegalArgumentException("not a result of PerCpuOps: " + result);
        };
    }

    /**
     * The index a result names: the one the section ran on (success except {@link #takeAndFollow},
     * COMPARISON_FAILED, BAD_POINTER), or the raw index word that had no slot (NO_SLOT: -1 or -2 when not
     * registered). Meaningless for ABORTED (0) and for {@link #takeAndFollow}'s success (a pointer).
     *
     * @param result what an operation returned
     * @return the index
     */
    public static int index(long result) {
        return result >= 0 ? (int) result : (int) (~result >>> 8);
    }

    // ---- What the operations work on ---------------------------------------------------------

    /**
     * The index of the CPU (or mm_cid) the calling thread runs on now, as its struct rseq says: a good
     * guess of where the next section will run, for reading the values to compare against. A
     * {@code ThreadLocal} lookup and a load on a platform thread.
     *
     * @return the index, or a negative value when the thread is not registered yet
     */
    public int currentIndex() {
        return Rseq.indexHint(cid);
    }

    /**
     * Bytes between two CPUs' copies of a datum.
     *
     * @return the stride
     */
    public long stride() {
        return stride;
    }

    /**
     * The number of copies a per-CPU datum has: one per possible CPU (mm_cid stays below it too).
     *
     * @return the slot count the code checks the index against
     */
    public int slots() {
        return slots;
    }

    /**
     * The bytes a per-CPU operand must span: every copy of a datum of {@code width} bytes.
     *
     * @param width the datum's size (8 for a word)
     * @return {@code (slots - 1) × stride + width}
     */
    public long span(long width) {
        return (slots - 1) * stride + width;
    }

    /**
     * The index this object's code reads.
     *
     * @return {@code cpu_id} or {@code mm_cid}
     */
    public Index index() {
        return index;
    }

    /**
     * Whose registration the code relies on, fixed when this object was made.
     *
     * @return {@link Owner#GLIBC} (the code finds glibc's area through %fs) or {@link Owner#PKRSEQ} (each
     *     platform thread's own area is passed in)
     */
    public Owner owner() {
        return owner;
    }

    /**
     * The injected delays this object's code was generated with.
     *
     * @return {@link DelayInjection#NONE} for the process-wide code
     */
    public DelayInjection delays() {
        return code.config().delays();
    }

    /**
     * The machine code this object runs, as a listing at its real address: every function of the page,
     * each instruction's offset, bytes, assembler text and purpose.
     *
     * @return the listing, with the page's address first
     */
    public String listing() {
        return "page 0x" + Long.toHexString(code.base()) + " (r-x), offsets from it:\n" + code.listing();
    }

    /**
     * Why the primitives cannot be used here with an index, if they cannot.
     *
     * @param index the index wanted
     * @return empty where {@link #of(Index)} succeeds; otherwise the reason it would give
     */
    public static Optional<String> whyUnavailable(Index index) {
        try {
            chooseOwner(index);
            return Optional.empty();
        } catch (UnavailableException e) {
            return Optional.of(e.getMessage());
        }
    }

    // ---- Internals -------------------------------------------------------------------------------

    /** Picks the variant from the calling thread's registration; refuses what cannot work. */
    static Owner chooseOwner(Index index) {
        if (!Syscall.architectureSupported()) {
            throw new UnavailableException(UnavailableException.Feature.ARCHITECTURE,
                    "rseq critical sections: unsupported architecture: "
                    + Syscall.architecture() + " (the sections are generated x86_64 machine code)");
        }
        Owner owner;
        if (RseqCode.usableGlibcOffset().isPresent()
                && Rseq.glibcCpuIdWord().orElse(RseqAbi.CPU_ID_REGISTRATION_FAILED) >= 0) {
            owner = Owner.GLIBC;
        } else {
            RseqAvailability a = Rseq.availability();
            if (!a.available()) {
                throw new UnavailableException(UnavailableException.Feature.RSEQ, "rseq critical sections: rseq is unavailable: " + a.reason());
            }
            owner = Owner.PKRSEQ;
        }
        if (index == Index.MM_CID) {
            int mmCidEnd = RseqAbi.MM_CID + 4;
            if (Rseq.kernelFeatureSize() < mmCidEnd) {
                throw new UnavailableException(UnavailableException.Feature.MM_CID, "mm_cid indexing refused: this kernel writes no mm_cid"
                        + " (AT_RSEQ_FEATURE_SIZE " + Rseq.kernelFeatureSize() + "; Linux 6.3+ writes it). Use Index.CPU_ID");
            }
            if (owner == Owner.GLIBC && Rseq.glibcCoveredLength() < mmCidEnd) {
                throw new UnavailableException(UnavailableException.Feature.MM_CID, "mm_cid indexing refused: glibc registered this JVM's threads with"
                        + " __rseq_size " + Rseq.glibcSize() + ", which covers " + Rseq.glibcCoveredLength()
                        + " bytes of struct rseq, and mm_cid ends at byte " + mmCidEnd + ". Run with"
                        + " GLIBC_TUNABLES=glibc.pthread.rseq=0 so that pkrseq registers its own areas, which cover it"
                        + " (or use Index.CPU_ID)");
            }
        }
        return owner;
    }

    private void before() {
        if (beforeEachSection != null) {
            beforeEachSection.run();
        }
    }

    private long area() {
        if (Thread.currentThread().isVirtual()) {
            throw new VirtualThreadException("rseq critical section refused on virtual thread '"
                    + Thread.currentThread().getName() + "': these per-CPU operations use pkrseq's own rseq registration ("
                    + Rseq.whyNotRegistered() + "), which needs the calling thread's own struct rseq, and a virtual"
                    + " thread's carrier is not its to register. Call from a platform thread, or run where glibc"
                    + " registers rseq (glibc 2.35+ without GLIBC_TUNABLES=glibc.pthread.rseq=0)");
        }
        return Rseq.areaAddressForCriticalSection();
    }

    private void requirePerCpu(MemorySegment s, long width, String name) {
        if (!s.isNative() || (s.address() & 7) != 0 || s.byteSize() < span(width)) {
            throw new IllegalArgumentException(name + ": a per-CPU operand must be a native segment, 8-byte aligned,"
                    + " starting at CPU 0's copy and spanning every copy: (slots - 1) × stride + " + width + " = "
                    + span(width) + " bytes (" + slots + " slots, stride " + stride + "); this one is "
                    + (s.isNative() ? s.byteSize() + " bytes at 0x" + Long.toHexString(s.address()) : "on the heap")
                    + ". Allocate per-CPU data from a PerCpuPool of the same stride");
        }
    }

    private static void requireWord(MemorySegment s, String name) {
        requirePlain(s, 8, name);
        if ((s.address() & 7) != 0) {
            throw new IllegalArgumentException(name + " must be 8-byte aligned: 0x" + Long.toHexString(s.address()));
        }
    }

    private static void requirePlain(MemorySegment s, long length, String name) {
        if (!s.isNative() || s.byteSize() < length) {
            throw new IllegalArgumentException(name + " must be a native segment of at least " + length + " bytes; this one "
                    + (s.isNative() ? "has " + s.byteSize() : "is on the heap"));
        }
    }

    /** A region a pointer may point into: returns the highest offset a word may start at. */
    private static long requireRegion(MemorySegment s, String name) {
        requirePlain(s, 8, name);
        return s.byteSize() - 8;
    }

    private static void requireLength(long length) {
        if (length < 0 || length > MAX_COPY) {
            throw new IllegalArgumentException("copy length must be 0 to " + MAX_COPY + " bytes (librseq's limit, which"
                    + " keeps a section short), not " + length);
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException re) {
            return re;
        }
        if (t instanceof Error e) {
            throw e;
        }
        throw new AssertionError("the generated code cannot throw", t);
    }

    @Override
    public String toString() {
        return "PerCpuOps[" + index + ", " + owner + " registration, " + slots + " slots, stride " + stride + ", "
                + code.config().delays() + (shared ? ", process-wide code" : ", own code page") + "]";
    }
}
