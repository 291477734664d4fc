package dev.pkrseq.rseq;

import dev.pkrseq.lab.ChildReport;

import dev.pkrseq.UnavailableException;
import dev.pkrseq.VirtualThreadException;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Child JVM main for {@link PerCpuOpsOwnRegistrationTest}, started with glibc's registration turned off:
 * every primitive's area variant, indexed by cpu_id and by mm_cid, on pkrseq's own registration. Prints
 * {@code <index>.<primitive>=ok} or what went wrong, and the virtual-thread refusal.
 */
public final class PerCpuOpsOwnChild {
    private PerCpuOpsOwnChild() {
    }

    /**
     * Runs the checks.
     *
     * @param args unused
     * @throws Exception when a check cannot run
     */
    public static void main(String[] args) throws Exception {
        ChildReport.put("ownerBefore", Rseq.owner());
        for (PerCpuOps.Index index : PerCpuOps.Index.values()) {
            String p = index == PerCpuOps.Index.CPU_ID ? "cpu." : "cid.";
            PerCpuOps ops;
            try {
                ops = PerCpuOps.of(index);
            } catch (UnavailableException e) {
                ChildReport.put(p + "unavailable", e.getMessage());
                continue;
            }
            ChildReport.put(p + "owner", ops.owner());
            PerCpuPool pool = PerCpuPool.create(64);
            check(p + "compareAndStore", () -> {
                PerCpuPool.Item v = pool.allocate();
                long r = retry(() -> ops.compareAndStore(v.percpu(), 0, 5));
                return r >= 0 && v.slot((int) r).get(JAVA_LONG, 0) == 5 && r == ops.currentIndex();
            });
            check(p + "add", () -> {
                PerCpuPool.Item v = pool.allocate();
                long r = retry(() -> ops.add(v.percpu(), 3));
                return r >= 0 && v.slot((int) r).get(JAVA_LONG, 0) == 3;
            });
            check(p + "takeAndFollow", () -> {
                PerCpuPool.Item v = pool.allocate();
                MemorySegment nodes = Arena.ofAuto().allocate(32, 16);
                int i = ops.currentIndex();
                v.slot(i).set(JAVA_LONG, 0, nodes.address());
                nodes.set(JAVA_LONG, 8, 0L);
                long r = retry(() -> ops.takeAndFollow(v.percpu(), 0, 8, nodes));
                return r == nodes.address() && v.slot(i).get(JAVA_LONG, 0) == 0;
            });
            check(p + "addIndirect", () -> {
                Indirection in = Indirection.of(pool, 0);
                long r = retry(() -> ops.addIndirect(in.ptr(), 0, 4, in.entries().percpu(), in.targets()));
                return r >= 0 && in.target(r) == 4;
            });
            check(p + "compareBothAndStore", () -> {
                PerCpuPool.Item v = pool.allocate();
                long r = retry(() -> ops.compareBothAndStore(v.percpu(), 0, v.percpu().asSlice(8), 0, 6));
                return r >= 0 && v.slot((int) r).get(JAVA_LONG, 0) == 6;
            });
            check(p + "compareStoreAndStore", () -> {
                PerCpuPool.Item v = pool.allocate();
                long r = retry(() -> ops.compareStoreAndStore(v.percpu(), 0, v.percpu().asSlice(8), 8, 7,
                        PerCpuOps.Order.RELEASE));
                return r >= 0 && v.slot((int) r).get(JAVA_LONG, 0) == 7 && v.slot((int) r).get(JAVA_LONG, 8) == 8;
            });
            check(p + "copies", () -> {
                PerCpuPool.Item v = pool.allocate();
                MemorySegment src = Arena.ofAuto().allocate(24, 8);
                src.set(JAVA_LONG, 16, 99);
                long r = retry(() -> ops.compareCopyInAndStore(v.percpu(), 0, v.percpu().asSlice(16), src, 24, 1,
                        PerCpuOps.Order.RELAXED));
                MemorySegment dst = Arena.ofAuto().allocate(24, 8);
                long r2 = retry(() -> ops.compareCopyOutAndStore(v.percpu(), 1, dst, v.percpu().asSlice(16), 24, 2,
                        PerCpuOps.Order.RELAXED));
                return r >= 0 && r2 >= 0 && dst.get(JAVA_LONG, 16) == 99;
            });
            check(p + "addAll", () -> {
                PerCpuPool.Item v = pool.allocate();
                MemorySegment deltas = Arena.ofAuto().allocate(16, 8);
                deltas.set(JAVA_LONG, 0, 2);
                deltas.set(JAVA_LONG, 8, 3);
                long r = retry(() -> ops.addAll(v.percpu(), deltas, 2));
                return r >= 0 && v.slot((int) r).get(JAVA_LONG, 0) == 2 && v.slot((int) r).get(JAVA_LONG, 8) == 3;
            });
            check(p + "bulkStack", () -> {
                PerCpuPool.Item head = pool.allocate();
                MemorySegment nodes = Arena.ofAuto().allocate(48, 16);
                MemorySegment list = Arena.ofAuto().allocate(16, 8);
                list.set(JAVA_LONG, 0, nodes.address());
                list.set(JAVA_LONG, 8, nodes.address() + 16);
                long r = ops.pushAll(head.percpu(), list, 8, nodes, 2);
                long pushed = retry(() -> ops.pushLink(head.percpu(), nodes.address() + 32, 8, nodes));
                MemorySegment out = Arena.ofAuto().allocate(24, 8);
                long taken = ops.popAll(head.percpu(), 8, nodes, out, 3);
                return r >= 0 && pushed >= 0 && taken == 3 && out.get(JAVA_LONG, 0) == nodes.address() + 32;
            });
            AtomicReference<String> virtual = new AtomicReference<>();
            Thread.ofVirtual().start(() -> {
                try {
                    ops.add(pool.allocate().percpu(), 1);
                    virtual.set("added");
                } catch (VirtualThreadException e) {
                    virtual.set("refused: " + e.getMessage());
                }
            }).join();
            ChildReport.put(p + "virtual", virtual.get());
        }
        ChildReport.put("unregistered", Rseq.unregister());
    }

    /** Makes a call again while the kernel aborts its section, as every caller of the primitives does. */
    static long retry(java.util.function.LongSupplier call) {
        for (;;) {
            long r = call.getAsLong();
            if (PerCpuOps.status(r) != PerCpuOps.Status.ABORTED) {
                return r;
            }
        }
    }

    interface Check {
        boolean ok() throws Exception;
    }

    private static void check(String name, Check c) {
        try {
            ChildReport.put(name, c.ok() ? "ok" : "wrong");
        } catch (Exception | Error e) {
            ChildReport.put(name, "failed: " + e);
        }
    }
}
