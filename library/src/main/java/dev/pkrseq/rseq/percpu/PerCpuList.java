package dev.pkrseq.rseq.percpu;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.lang.ref.Reference;

import dev.pkrseq.rseq.PerCpuOps;
import dev.pkrseq.rseq.PerCpuPool;

/**
 * A lock-free linked stack per CPU, after the kernel's {@code param_test -T l}: {@link #push(long)} puts
 * a node on the stack of the CPU the thread runs on, {@link #pop()} takes the top node of that CPU's
 * stack. Nodes are native memory the caller owns, inside one region given at construction, each with a
 * next pointer at {@code nextOffset}.
 *
 * <ul>
 *   <li>push: {@link PerCpuOps#pushLink}, one section that loads the head, writes it into the node's next
 *       pointer and stores the node as the head; or, as param_test does it, {@link #pushCompareAndStore}: read
 *       the head of the thread's CPU, write it into the node, then {@link PerCpuOps#compareAndStore} the head
 *       from that value to the node (librseq's {@code load_cbne_store}), reading again if the section ran on
 *       another CPU or the head changed.</li>
 *   <li>pop: {@link PerCpuOps#takeAndFollow} (librseq's {@code load_cbeq_store_add_load_store}): inside one
 *       section, take the head unless it is 0 and replace it with its next pointer. Unlike a Treiber stack,
 *       this pop cannot suffer ABA: nothing else runs on the CPU between the read of the head and the
 *       commit. The section checks that the next pointer lies inside the node region before reading it, so
 *       a corrupt list fails instead of crashing the JVM.</li>
 * </ul>
 * A node must be in no stack when pushed; which CPU's stack it lands on is the CPU of the push.
 */
public final class PerCpuList extends PerCpuStructure {
    private static final VarHandle WORD = JAVA_LONG.varHandle();

    private final MemorySegment heads;
    private final MemorySegment nodes;
    private final long nodesBase;
    private final long nextOffset;

    /**
     * An empty stack per CPU (or per mm_cid).
     *
     * @param ops the primitives
     * @param pool where the heads come from; of the same stride as {@code ops}
     * @param nodes the native memory every node lies in
     * @param nextOffset where a node's next pointer lies, from the node's start; 8-byte aligned
     * @throws IllegalArgumentException when the strides differ, or the region or offset are unusable
     */
    public PerCpuList(PerCpuOps ops, PerCpuPool pool, MemorySegment nodes, long nextOffset) {
        super(ops, fitting(ops, pool, nodes, nextOffset));
        this.heads = percpu();
        this.nodes = nodes;
        this.nodesBase = nodes.address();
        this.nextOffset = nextOffset;
    }

    private static PerCpuPool fitting(PerCpuOps ops, PerCpuPool pool, MemorySegment nodes, long nextOffset) {
        Structures.requireSameStride(ops, pool);
        if (!nodes.isNative() || nodes.byteSize() < nextOffset + 8 || nextOffset < 0 || (nextOffset & 7) != 0) {
            throw new IllegalArgumentException("nodes must be native memory holding at least one node, and nextOffset ("
                    + nextOffset + ") 8-byte aligned inside it");
        }
        return pool;
    }

    /**
     * Pushes a node onto the stack of the CPU the thread runs on.
     *
     * @param node the node's address: inside the region, its next pointer 8-byte aligned
     * @return the CPU (or mm_cid) whose stack it went onto
     * @throws IllegalArgumentException when the node is outside the region or misaligned
     * @throws IllegalStateException when the thread's struct rseq gives no usable index
     */
    public int push(long node) {
        long next = node - nodesBase + nextOffset;
        if (node == 0 || next < nextOffset || next > nodes.byteSize() - 8 || (next & 7) != 0) {
            throw new IllegalArgumentException("node 0x" + Long.toHexString(node) + " is not a node of the region 0x"
                    + Long.toHexString(nodesBase) + " + " + nodes.byteSize() + " (next pointer at +" + nextOffset + ")");
        }
        for (;;) {
            long r = ops.pushLink(heads, node, nextOffset, nodes);
            if (r >= 0) {
                Reference.reachabilityFence(this);
                return (int) r;
            }
            if (PerCpuOps.status(r) != PerCpuOps.Status.ABORTED) {
                throw Structures.failed("PerCpuList.push()", r);
            }
            restarts.increment();
        }
    }

    /**
     * Pushes a node the way param_test does: read the head of {@link PerCpuOps#currentIndex()}'s stack, write it
     * into the node, then {@link PerCpuOps#compareAndStore} the head from that value to the node (librseq's
     * {@code load_cbne_store}), reading again when the section ran elsewhere or the head changed. The same
     * result as {@link #push(long)}, which reads the head inside its section instead and so needs no CPU
     * lookup in Java.
     *
     * @param node the node's address: inside the region, its next pointer 8-byte aligned
     * @return the CPU (or mm_cid) whose stack it went onto
     * @throws IllegalArgumentException when the node is outside the region or misaligned
     * @throws IllegalStateException when the thread's struct rseq gives no usable index
     */
    public int pushCompareAndStore(long node) {
        long next = node - nodesBase + nextOffset;
        if (node == 0 || next < nextOffset || next > nodes.byteSize() - 8 || (next & 7) != 0) {
            throw new IllegalArgumentException("node 0x" + Long.toHexString(node) + " is not a node of the region 0x"
                    + Long.toHexString(nodesBase) + " + " + nodes.byteSize() + " (next pointer at +" + nextOffset + ")");
        }
        int index = Structures.hint(ops);
        for (;;) {
            long head = (long) WORD.getOpaque(heads, index * stride);
            WORD.set(nodes, next, head);
            long r = ops.compareAndStore(heads, head, node);
            if (r >= 0) {
                Reference.reachabilityFence(this);
                return (int) r;
            }
            index = Structures.retryIndex("PerCpuList.pushCompareAndStore()", r, index, restarts);
        }
    }

    /**
     * Pushes a node given as a segment (its address).
     *
     * @param node the node
     * @return the CPU (or mm_cid) whose stack it went onto
     */
    public int push(MemorySegment node) {
        return push(node.address());
    }

    /**
     * Pops up to {@code max} nodes from the stack of the CPU the thread runs on, in one call into the code
     * (a section per node: {@link PerCpuOps#popAll}): what a per-CPU cache does to hand out a batch.
     *
     * @param out room for {@code max} node addresses
     * @param max nodes to pop at most, at least 1
     * @return how many were popped into {@code out} (fewer when the stack ran empty)
     * @throws IllegalStateException when the thread's struct rseq gives no usable index, or the stack is
     *     corrupt
     */
    public int popMany(MemorySegment out, int max) {
        long r = ops.popAll(heads, nextOffset, nodes, out, max);
        Reference.reachabilityFence(this);
        if (r < 0) {
            throw Structures.failed("PerCpuList.popMany()", r);
        }
        return (int) r;
    }

    /**
     * Pushes {@code count} nodes onto the stack of the CPU the thread runs on, in one call into the code (a
     * section per node: {@link PerCpuOps#pushAll}).
     *
     * @param from the node addresses, in push order; each a node of the region
     * @param count nodes to push, at least 1
     * @throws IllegalStateException when the thread's struct rseq gives no usable index, or a node lies outside
     *     the region (the nodes before it were pushed)
     */
    public void pushAll(MemorySegment from, int count) {
        long r = ops.pushAll(heads, from, nextOffset, nodes, count);
        Reference.reachabilityFence(this);
        if (r < 0) {
            throw Structures.failed("PerCpuList.pushAll()", r);
        }
    }

    /**
     * Pops the top node of the stack of the CPU the thread runs on.
     *
     * @return the node's address, or 0 when that CPU's stack is empty
     * @throws IllegalStateException when the thread's struct rseq gives no usable index, or the stack is
     *     corrupt (a next pointer outside the region)
     */
    public long pop() {
        for (;;) {
            long r = ops.takeAndFollow(heads, 0, nextOffset, nodes);
            if (r >= 0) {
                Reference.reachabilityFence(this);
                return r;
            }
            switch (PerCpuOps.status(r)) {
                case COMPARISON_FAILED -> {
                    return 0;
                }
                case ABORTED -> restarts.increment();
                default -> throw Structures.failed("PerCpuList.pop()", r);
            }
        }
    }

    /**
     * Pushes onto one CPU's stack without a critical section: only while no thread pushes or pops, for
     * example to fill the stacks before the workers start (param_test fills its lists directly).
     *
     * @param index the CPU (or mm_cid)
     * @param node the node's address, inside the region
     */
    public void pushQuiescent(int index, long node) {
        long at = Structures.at(index, ops.slots(), stride);
        long next = node - nodesBase + nextOffset;
        if (node == 0 || next < nextOffset || next > nodes.byteSize() - 8 || (next & 7) != 0) {
            throw new IllegalArgumentException("node 0x" + Long.toHexString(node) + " is not a node of the region");
        }
        WORD.set(nodes, next, (long) WORD.get(heads, at));
        WORD.set(heads, at, node);
    }

    /**
     * Pops from one CPU's stack without a critical section (param_test's {@code __percpu_list_pop}): only
     * while no thread pushes or pops, for example to drain the stacks after the workers were joined.
     *
     * @param index the CPU (or mm_cid)
     * @return the node, or 0 when that stack is empty
     */
    public long popQuiescent(int index) {
        long at = Structures.at(index, ops.slots(), stride);
        long head = (long) WORD.get(heads, at);
        if (head == 0) {
            return 0;
        }
        long next = head - nodesBase + nextOffset;
        if (next < nextOffset || next > nodes.byteSize() - 8) {
            throw new IllegalStateException("PerCpuList: the head of stack " + index + " is outside the node region");
        }
        WORD.set(heads, at, (long) WORD.get(nodes, next));
        return head;
    }

    @Override
    public String toString() {
        return describe("PerCpuList", "stacks");
    }
}
