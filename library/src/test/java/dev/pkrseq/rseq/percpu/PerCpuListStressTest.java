package dev.pkrseq.rseq.percpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicReference;

import dev.pkrseq.lab.rseq.NodeCensus;
import dev.pkrseq.rseq.DelayInjection;
import dev.pkrseq.rseq.PerCpuOps;
import dev.pkrseq.rseq.PerCpuPool;
import dev.pkrseq.rseq.RacyOps;
import dev.pkrseq.sys.ThreadCalls;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The list's batches (popMany, pushAll) under param_test's kind of stress: 6 × nproc threads move batches
 * of 8 nodes out and back in with a delay inside every section (point 4, between loading the head and the
 * commit); afterwards every node is there once. The
 * same run on code without rseq loses or duplicates nodes.
 */
class PerCpuListStressTest {
    static final int THREADS = 6 * Math.max(1, ThreadCalls.onlineCpus());
    static final int PER_CPU = 100;

    @BeforeAll
    static void rseq() {
        Features.assumeRseq();
    }

    /** Runs the batches and returns {found, found twice} after draining every stack. */
    static long[] run(PerCpuOps ops, int reps, boolean batches) throws InterruptedException {
        int slots = ops.slots();
        int count = slots * PER_CPU;
        MemorySegment nodes = Arena.ofAuto().allocate(16L * count, 16);
        PerCpuList list = new PerCpuList(ops, PerCpuPool.create(8), nodes, 8);
        for (int i = 0; i < count; i++) {
            list.pushQuiescent(i % slots, nodes.address() + 16L * i);
        }
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread[] threads = new Thread[THREADS];
        for (int t = 0; t < THREADS; t++) {
            threads[t] = Thread.ofPlatform().start(() -> {
                try (Arena a = Arena.ofConfined()) {
                    MemorySegment batch = a.allocate(8 * 8, 8);
                    for (int k = 0; k < reps; k++) {
                        if (batches) {
                            int n = list.popMany(batch, 8);
                            if (n > 0) {
                                list.pushAll(batch, n);
                            }
                        } else {
                            long n = list.pop();
                            if (n != 0) {
                                list.push(n);
                            }
                        }
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            });
        }
        for (Thread t : threads) {
            t.join();
        }
        if (failure.get() != null) {
            throw new IllegalStateException(failure.get());
        }
        NodeCensus census = NodeCensus.drain(nodes, count, slots, list::popQuiescent);
        return new long[] {census.found(), census.twice(), count};
    }

    @ParameterizedTest(name = "batches {0}")
    @ValueSource(booleans = {false, true})
    void everyNodeStaysExactlyOnceUnderDelaysAndPreemption(boolean batches) throws Exception {
        PerCpuOps ops = PerCpuOps.of(PerCpuOps.Index.CPU_ID, PerCpuOps.DEFAULT_STRIDE, DelayInjection.at(4, 5000));
        long[] r = run(ops, batches ? 500 : 2000, batches);
        assertEquals(r[2], r[0], "nodes found");
        assertEquals(0, r[1], "nodes found twice");
    }

    @ParameterizedTest(name = "batches {0}")
    @ValueSource(booleans = {false, true})
    void withoutRseqTheSameRunsLoseOrDuplicateNodes(boolean batches) throws Exception {
        for (int attempt = 0; attempt < 3; attempt++) {
            long[] r = run(RacyOps.of(PerCpuOps.Index.CPU_ID, DelayInjection.at(4, 5000), null), batches ? 500 : 2000,
                    batches);
            if (r[0] != r[2] || r[1] != 0) {
                return;
            }
        }
        org.junit.jupiter.api.Assertions.fail("the racy list kept every node in three runs, so the exact run proves"
                + " nothing");
    }
}
