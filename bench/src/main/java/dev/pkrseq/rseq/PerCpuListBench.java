package dev.pkrseq.rseq;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicReference;

import dev.pkrseq.bench.NanoBenchmark;
import dev.pkrseq.rseq.percpu.PerCpuList;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * A stack every benchmark thread pops a node from and pushes it back to (param_test's list loop): pkrseq's
 * per-CPU list (a pop and a push, each one rseq critical section on the thread's CPU's stack) against a
 * Treiber stack on one {@link AtomicReference} (a CAS on a shared head per operation, a new node per
 * push) and a {@link ConcurrentLinkedDeque}. bench/run runs this class with {@code -t 1} and then
 * {@code -t 2}; the threads share one instance of each stack, filled with 64 entries per CPU so that a pop
 * finds one.
 *
 * <p>{@code rseqPopPushBatch8} moves 8 nodes out and back in with one call each way
 * ({@link PerCpuList#popMany} and {@link PerCpuList#pushAll}: a section per node, one critical downcall per
 * batch, as tcmalloc moves objects between its per-CPU caches and the rest of the heap); it reports the
 * time per node, to set against one pop and push of the others.
 */
@State(Scope.Benchmark)
public class PerCpuListBench extends NanoBenchmark {
    private static final int PER_CPU = 64;

    private PerCpuList perCpu;
    private final AtomicReference<Node> treiber = new AtomicReference<>();
    private final ConcurrentLinkedDeque<Long> deque = new ConcurrentLinkedDeque<>();

    /** A Treiber stack's node: immutable, so a pop can never see a node reused under it (no ABA). */
    private record Node(long value, Node next) {
    }

    /** Fills the three stacks. */
    @Setup(Level.Trial)
    public void setup() {
        PerCpuOps ops = PerCpuOps.cpuId();
        int slots = ops.slots();
        MemorySegment nodes = Arena.ofAuto().allocate(16L * PER_CPU * slots, 16);
        perCpu = new PerCpuList(ops, PerCpuPool.create(8), nodes, 8);
        for (int i = 0; i < PER_CPU * slots; i++) {
            perCpu.pushQuiescent(i % slots, nodes.address() + 16L * i);
            Node head = treiber.get();
            treiber.set(new Node(i, head));
            deque.offerFirst((long) i);
        }
    }

    /** Each benchmark thread's batch buffer. */
    @State(Scope.Thread)
    public static class Batch {
        /** Room for 8 node addresses. */
        MemorySegment nodes = Arena.ofAuto().allocate(64, 8);
    }

    /** pkrseq, in batches: pop up to 8 nodes in one call, push them back in one call. Per node. */
    @Benchmark
    @OperationsPerInvocation(8)
    public int rseqPopPushBatch8(Batch b) {
        int n = perCpu.popMany(b.nodes, 8);
        if (n > 0) {
            perCpu.pushAll(b.nodes, n);
        }
        return n;
    }

    /** pkrseq: pop from the thread's CPU's stack, push the node back (a section that reads the head itself). */
    @Benchmark
    public long rseqPopPush() {
        long n = perCpu.pop();
        if (n != 0) {
            perCpu.push(n);
        }
        return n;
    }

    /**
     * pkrseq, pushing as param_test does: the head read in Java (the CPU from a {@code ThreadLocal}), then
     * compare-and-store ({@link PerCpuList#pushCompareAndStore}).
     */
    @Benchmark
    public long rseqPopPushCompareAndStore() {
        long n = perCpu.pop();
        if (n != 0) {
            perCpu.pushCompareAndStore(n);
        }
        return n;
    }

    /** A Treiber stack: CAS the shared head to pop, CAS a new node in to push. */
    @Benchmark
    public long treiberPopPush() {
        Node top;
        do {
            top = treiber.get();
        } while (top != null && !treiber.compareAndSet(top, top.next()));
        if (top == null) {
            return 0;
        }
        Node pushed = new Node(top.value(), null);
        for (;;) {
            Node head = treiber.get();
            pushed = new Node(pushed.value(), head);
            if (treiber.compareAndSet(head, pushed)) {
                return top.value();
            }
        }
    }

    /** {@link ConcurrentLinkedDeque#pollFirst()} then {@link ConcurrentLinkedDeque#offerFirst}. */
    @Benchmark
    public Long dequePollOffer() {
        Long v = deque.pollFirst();
        if (v != null) {
            deque.offerFirst(v);
        }
        return v;
    }
}
