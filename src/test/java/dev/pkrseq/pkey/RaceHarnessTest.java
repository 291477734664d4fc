package dev.pkrseq.pkey;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

/**
 * The race harness itself, on any machine: a read-then-write increment by two threads loses an update
 * under {@link Race} (the harness finds races), an atomic one never does, and both orders come up.
 */
class RaceHarnessTest {
    /** A counter and who got there first. */
    static final class Counter {
        volatile int plain;
        final AtomicInteger atomic = new AtomicInteger();
        final AtomicInteger first = new AtomicInteger();
    }

    private static Race<Counter> race(boolean atomic) {
        Race.Actor<Counter> add = s -> {
            if (atomic) {
                int was = s.atomic.getAndIncrement();
                return was == 0 ? "first" : "second";
            }
            int was = s.plain;
            long end = System.nanoTime() + 20_000;
            while (System.nanoTime() < end) {
                Thread.onSpinWait();
            }
            s.plain = was + 1;
            return was == 0 ? "first" : "second";
        };
        return new Race<Counter>(atomic ? "atomic increments" : "read-then-write increments", Counter::new, add, add,
                (s, a, b) -> {
                    int total = atomic ? s.atomic.get() : s.plain;
                    if (total != 2) {
                        return "FORBIDDEN lost update: " + total;
                    }
                    return "A " + a + ", B " + b;
                }, s -> {
                });
    }

    @Test
    void theHarnessCatchesALostUpdate() throws Exception {
        Race.Outcomes o = race(false).run(1_000, 3);
        System.out.println(o);
        assertTrue(o.forbidden() > 0, o.toString());
    }

    @Test
    void anAtomicIncrementLosesNothingAndBothOrdersComeUp() throws Exception {
        Race.Outcomes o = race(true).run(1_000, 0);
        System.out.println(o);
        assertEquals(0, o.forbidden(), o.toString());
        assertEquals(2, o.allowedKinds(), o.toString());
        assertEquals(1_000, o.iterations());
    }
}
