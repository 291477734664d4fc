package dev.pkrseq.rseq;

import dev.pkrseq.lab.ChildReport;
import dev.pkrseq.VirtualThreadException;
import java.util.concurrent.atomic.AtomicReference;

import dev.pkrseq.lab.rseq.PerCpuStress;
import dev.pkrseq.sys.ThreadCalls;

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
        ChildReport.put("glibcSize", Rseq.glibcSize());
        ChildReport.put("ownerBefore", Rseq.owner());
        PerCpuCounter c = new PerCpuCounter();
        ChildReport.put("counterOwner", c.owner());
        PerCpuStress.Result r = PerCpuStress.run(PerCpuStress.of(c), 2, 2_000_000, true);
        ChildReport.put("two.expected", r.expected());
        ChildReport.put("two.sum", r.sum());
        ChildReport.put("two.changes", r.affinityChanges());
        int many = 4 * ThreadCalls.onlineCpus();
        PerCpuCounter m = new PerCpuCounter();
        r = PerCpuStress.run(PerCpuStress.of(m), many, 500_000, true);
        ChildReport.put("many.expected", r.expected());
        ChildReport.put("many.sum", r.sum());
        PerCpuCounter w = new PerCpuCounter(PerCpuOps.of(PerCpuOps.Index.CPU_ID, PerCpuOps.DEFAULT_STRIDE,
                DelayInjection.at(3, PerCpuCounterTest.DELAY)));
        r = PerCpuStress.run(PerCpuStress.of(w), many, 20_000, true);
        ChildReport.put("widened.expected", r.expected());
        ChildReport.put("widened.sum", r.sum());
        ChildReport.put("widened.restarts", r.restarts());
        // The main thread: registered on its first add, the same area on later adds, unregistered after.
        c.increment();
        ChildReport.put("main.ownerAfterAdd", Rseq.owner());
        long area = Rseq.current().orElseThrow().address();
        c.increment();
        ChildReport.put("main.sameArea", (Rseq.current().orElseThrow().address() == area));
        ChildReport.put("main.unregistered", Rseq.unregister());
        AtomicReference<String> virtual = new AtomicReference<>();
        Thread.ofVirtual().start(() -> {
            try {
                c.increment();
                virtual.set("added");
            } catch (VirtualThreadException e) {
                virtual.set("refused: " + e.getMessage());
            }
        }).join();
        ChildReport.put("virtual", virtual.get());
        ChildReport.put("sumAfter", c.sum());
        System.out.flush();
    }
}
