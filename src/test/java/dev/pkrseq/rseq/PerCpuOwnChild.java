package dev.pkrseq.rseq;

import java.util.concurrent.atomic.AtomicReference;

import dev.pkrseq.observe.PerCpuStress;
import dev.pkrseq.sys.Sys;

/**
 * Child JVM main for {@link PerCpuOwnRegistrationTest}, started with glibc's registration turned off:
 * counters on pkrseq's own registration, under the same stress as in the parent. Prints {@code key=value}
 * lines.
 */
public final class PerCpuOwnChild {
    private PerCpuOwnChild() {
    }

    /**
     * Runs the scenarios.
     *
     * @param args unused
     * @throws Exception when a scenario cannot run
     */
    public static void main(String[] args) throws Exception {
        System.out.println("glibcSize=" + Rseq.glibcSize());
        System.out.println("ownerBefore=" + Rseq.owner());
        PerCpuCounter c = new PerCpuCounter();
        System.out.println("counterOwner=" + c.owner());
        PerCpuStress.Result r = PerCpuStress.run(PerCpuStress.of(c), 2, 2_000_000, true);
        System.out.println("two.expected=" + r.expected());
        System.out.println("two.sum=" + r.sum());
        System.out.println("two.changes=" + r.affinityChanges());
        int many = 4 * Sys.onlineCpus();
        PerCpuCounter m = new PerCpuCounter();
        r = PerCpuStress.run(PerCpuStress.of(m), many, 500_000, true);
        System.out.println("many.expected=" + r.expected());
        System.out.println("many.sum=" + r.sum());
        PerCpuCounter w = new PerCpuCounter(PerCpuOps.of(PerCpuOps.Index.CPU_ID, PerCpuOps.DEFAULT_STRIDE,
                DelayInjection.at(3, PerCpuCounterTest.DELAY)));
        r = PerCpuStress.run(PerCpuStress.of(w), many, 20_000, true);
        System.out.println("widened.expected=" + r.expected());
        System.out.println("widened.sum=" + r.sum());
        System.out.println("widened.restarts=" + r.restarts());
        // The main thread: registered on its first add, the same area on later adds, unregistered after.
        c.increment();
        System.out.println("main.ownerAfterAdd=" + Rseq.owner());
        long area = Rseq.current().orElseThrow().address();
        c.increment();
        System.out.println("main.sameArea=" + (Rseq.current().orElseThrow().address() == area));
        System.out.println("main.unregistered=" + Rseq.unregister());
        AtomicReference<String> virtual = new AtomicReference<>();
        Thread.ofVirtual().start(() -> {
            try {
                c.increment();
                virtual.set("added");
            } catch (UnsupportedOperationException e) {
                virtual.set("refused: " + e.getMessage());
            }
        }).join();
        System.out.println("virtual=" + virtual.get());
        System.out.println("sumAfter=" + c.sum());
        System.out.flush();
    }
}
