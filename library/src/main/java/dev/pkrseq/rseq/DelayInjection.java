package dev.pkrseq.rseq;

import java.util.Arrays;
import java.util.StringJoiner;

/**
 * Spin loops compiled into the generated critical sections at the points where the kernel's
 * {@code param_test.c} places {@code RSEQ_INJECT_ASM(1)} to {@code RSEQ_INJECT_ASM(6)}, to widen the
 * windows in which a preemption, migration or signal aborts a section.
 *
 * <p>Point by point (the same places as librseq's x86 helpers):
 * <ol>
 *   <li>before the section is armed (the {@code rseq_cs} store);</li>
 *   <li>inside the section, before the CPU (or mm_cid) is read;</li>
 *   <li>after the CPU is checked and the per-CPU addresses computed;</li>
 *   <li>after the first comparison; in {@code add}, {@code addIndirect} and {@code addAll}, after the commit;
 *       in {@code pushLink}, {@code popAll} and {@code pushAll}, after the head was loaded (inside the
 *       window);</li>
 *   <li>after the second comparison, the speculative store, or the copy; in {@code compareAndStore} and
 *       {@code takeAndFollow}, and in pkrseq's own {@code pushLink}, {@code popAll} and {@code pushAll},
 *       after the commit; in {@code addIndirect}, between following the shared pointer and the commit (a
 *       point librseq's helper does not have: pkrseq adds it so that the window the membarrier test is about
 *       can be widened);</li>
 *   <li>after the commit of the primitives that have points 4 and 5 inside.</li>
 * </ol>
 * A point with 0 loops emits no byte at all: the code without injection is exactly the documented
 * listing. A point with n &gt; 0 loops emits {@code mov $n,%eax; 1: dec %eax; jnz 1b} (9 bytes). The
 * points 7 to 9 of param_test are C-level delays before a helper runs; pkrseq's param test
 * ({@code dev.pkrseq.lab.rseq.ParamTest}) places them in Java, before the call.
 *
 * @param loops the loop counts of points 1 to 6, in that order; each 0 or more
 */
public record DelayInjection(int[] loops) {
    /** The number of points compiled into the code. */
    public static final int POINTS = 6;
    /** No injected delay: the code of the documented listings. */
    public static final DelayInjection NONE = new DelayInjection(new int[POINTS]);

    /**
     * Checks and copies the counts.
     *
     * @param loops the loop counts of points 1 to 6
     * @throws IllegalArgumentException when there are not 6 counts or one is negative
     */
    public DelayInjection {
        if (loops.length != POINTS) {
            throw new IllegalArgumentException("DelayInjection needs " + POINTS + " loop counts (points 1 to 6), not "
                    + loops.length);
        }
        loops = loops.clone();
        for (int i = 0; i < POINTS; i++) {
            if (loops[i] < 0) {
                throw new IllegalArgumentException("injection point " + (i + 1) + ": loop count " + loops[i]
                        + " is negative; points 1 to 6 are compiled spin loops (only param_test's C-level points 7 to 9"
                        + " take -1)");
            }
        }
    }

    /**
     * One point set, the others unset.
     *
     * @param point 1 to 6
     * @param count loops, 0 or more
     * @return the injection
     */
    public static DelayInjection at(int point, int count) {
        return NONE.with(point, count);
    }

    /**
     * This injection with one point changed.
     *
     * @param point 1 to 6
     * @param count loops, 0 or more
     * @return a new injection
     */
    public DelayInjection with(int point, int count) {
        checkPoint(point);
        int[] l = loops.clone();
        l[point - 1] = count;
        return new DelayInjection(l);
    }

    /**
     * The loop count at one point.
     *
     * @param point 1 to 6
     * @return loops, 0 when unset
     */
    public int loops(int point) {
        checkPoint(point);
        return loops[point - 1];
    }

    /**
     * The counts.
     *
     * @return a copy of the 6 counts
     */
    @Override
    public int[] loops() {
        return loops.clone();
    }

    /**
     * Whether any point is set.
     *
     * @return false for {@link #NONE}
     */
    public boolean any() {
        for (int l : loops) {
            if (l > 0) {
                return true;
            }
        }
        return false;
    }

    private static void checkPoint(int point) {
        if (point < 1 || point > POINTS) {
            throw new IllegalArgumentException("injection point " + point + " is not compiled into the code: points 1 to "
                    + POINTS + " are");
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DelayInjection d && Arrays.equals(d.loops, loops);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(loops);
    }

    @Override
    public String toString() {
        if (!any()) {
            return "no injected delay";
        }
        StringJoiner j = new StringJoiner(", ", "delays ", "");
        for (int i = 0; i < POINTS; i++) {
            if (loops[i] > 0) {
                j.add("-" + (i + 1) + " " + loops[i]);
            }
        }
        return j.toString();
    }
}
