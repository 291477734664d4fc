package dev.pkrseq.pkey;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import java.util.function.Supplier;

import dev.pkrseq.sys.NativeException;
import dev.pkrseq.sys.Sys;
import jdk.jfr.Event;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/**
 * A race in the style of jcstress: two long-lived actor threads each run one operation per iteration on a
 * fresh state, released together by a spin barrier (each after a random spin of up to a few microseconds,
 * so that every interleaving comes up), and a judge names the outcome from both results and from what the
 * kernel shows afterwards. Outcomes are counted; a judge marks a forbidden one with the prefix
 * {@code FORBIDDEN}. Each actor's operation is also a JFR event ({@link Act}), so that a judge may ask the
 * recording in which order the native calls of the two actors happened.
 *
 * @param <S> the per-iteration state
 */
final class Race<S> {
    /** One actor's operation on the state; returns its outcome as text. */
    @FunctionalInterface
    interface Actor<S> {
        String act(S state) throws Exception;
    }

    /** Names the outcome of one iteration; "FORBIDDEN ..." for an outcome the library must never give. */
    @FunctionalInterface
    interface Judge<S> {
        String judge(S state, String a, String b);
    }

    /** One actor's operation in a JFR recording: its thread and time window. */
    @Name("dev.pkrseq.test.RaceAct")
    @StackTrace(false)
    static final class Act extends Event {
        int iteration;
        String actor;
    }

    /**
     * What a race gave.
     *
     * @param name the race
     * @param iterations how many iterations ran
     * @param counts outcome to how often it came
     * @param examples the first forbidden outcomes with their iteration
     * @param actorA the thread id of actor A, for matching JFR events
     * @param actorB the thread id of actor B
     */
    record Outcomes(String name, int iterations, Map<String, Integer> counts, List<String> examples, long actorA,
            long actorB) {
        long forbidden() {
            return counts.entrySet().stream().filter(e -> e.getKey().startsWith("FORBIDDEN")).mapToLong(Map.Entry::getValue)
                    .sum();
        }

        long allowedKinds() {
            return counts.keySet().stream().filter(k -> !k.startsWith("FORBIDDEN")).count();
        }

        @Override
        public String toString() {
            StringBuilder sb = new StringBuilder(name + ": " + iterations + " iterations");
            counts.forEach((k, v) -> sb.append("\n  ").append(String.format("%7d", v)).append("  ").append(k));
            for (String e : examples) {
                sb.append("\n  e.g. ").append(e);
            }
            return sb.toString();
        }
    }

    private final String name;
    private final Supplier<S> setup;
    private Actor<S> prepareA = s -> "";
    private Actor<S> prepareB = s -> "";
    private final Actor<S> a;
    private final Actor<S> b;
    private final Judge<S> judge;
    private final Consumer<S> cleanup;
    private int jitter = 2000;

    Race(String name, Supplier<S> setup, Actor<S> a, Actor<S> b, Judge<S> judge, Consumer<S> cleanup) {
        this.name = name;
        this.setup = setup;
        this.a = a;
        this.b = b;
        this.judge = judge;
        this.cleanup = cleanup;
    }

    /** Runs on actor A's thread before the barrier, each iteration (for per-thread set-up such as PKRU). */
    Race<S> prepareA(Actor<S> p) {
        this.prepareA = p;
        return this;
    }

    /** Runs on actor B's thread before the barrier, each iteration. */
    Race<S> prepareB(Actor<S> p) {
        this.prepareB = p;
        return this;
    }

    /** The most spin-wait rounds an actor waits after the barrier, drawn anew each iteration. */
    Race<S> jitter(int rounds) {
        this.jitter = rounds;
        return this;
    }

    /** A step handed to an actor thread: prepare, then act after the barrier. */
    private static final class Slot {
        volatile int round = -1;
        volatile String prepared;
        volatile String result;
        volatile Throwable failure;
    }

    /**
     * Runs up to {@code iterations} iterations; stops early after {@code stopAfterForbidden} forbidden outcomes
     * (0: never).
     */
    Outcomes run(int iterations, int stopAfterForbidden) throws InterruptedException {
        Map<String, Integer> counts = new TreeMap<>();
        List<String> examples = new ArrayList<>();
        Slot sa = new Slot();
        Slot sb = new Slot();
        AtomicReference<S> state = new AtomicReference<>();
        AtomicInteger arrived = new AtomicInteger();
        Thread main = Thread.currentThread();
        Thread ta = actor("race-a", 0, sa, prepareA, a, state, arrived, main);
        Thread tb = actor("race-b", 1, sb, prepareB, b, state, arrived, main);
        int done = 0;
        int forbidden = 0;
        try {
            for (int i = 0; i < iterations; i++) {
                S s = setup.get();
                state.set(s);
                sa.result = null;
                sb.result = null;
                sa.prepared = null;
                sb.prepared = null;
                arrived.set(0);
                sa.round = i;
                sb.round = i;
                LockSupport.unpark(ta);
                LockSupport.unpark(tb);
                // Park, not spin: on two CPUs the actors need both while they race.
                while (sa.result == null || sb.result == null) {
                    if (sa.failure != null || sb.failure != null) {
                        Throwable t = sa.failure != null ? sa.failure : sb.failure;
                        throw new AssertionError(name + ": an actor failed in iteration " + i + ": " + t, t);
                    }
                    LockSupport.parkNanos(1_000_000);
                }
                String outcome;
                try {
                    outcome = judge.judge(s, sa.result, sb.result);
                } finally {
                    cleanup.accept(s);
                }
                counts.merge(outcome, 1, Integer::sum);
                done++;
                if (outcome.startsWith("FORBIDDEN")) {
                    forbidden++;
                    if (examples.size() < 3) {
                        examples.add("iteration " + i + ": A " + sa.result + ", B " + sb.result + " -> " + outcome);
                    }
                    if (stopAfterForbidden > 0 && forbidden >= stopAfterForbidden) {
                        break;
                    }
                }
            }
        } finally {
            sa.round = Integer.MIN_VALUE;
            sb.round = Integer.MIN_VALUE;
            LockSupport.unpark(ta);
            LockSupport.unpark(tb);
            ta.join();
            tb.join();
        }
        return new Outcomes(name, done, counts, examples, ta.threadId(), tb.threadId());
    }

    /**
     * Pins an actor to a CPU of its own, where there are two: woken from park, both actors could otherwise land
     * on one CPU and take turns, and nothing would overlap.
     */
    private static void pin(int index) {
        java.util.BitSet allowed = Sys.schedGetaffinity(0);
        if (allowed.cardinality() < 2) {
            return;
        }
        int cpu = allowed.nextSetBit(0);
        for (int i = 0; i < index; i++) {
            cpu = allowed.nextSetBit(cpu + 1);
        }
        java.util.BitSet one = new java.util.BitSet();
        one.set(cpu);
        Sys.schedSetaffinity(0, one);
    }

    private Thread actor(String threadName, int index, Slot slot, Actor<S> prepare, Actor<S> act,
            AtomicReference<S> state, AtomicInteger arrived, Thread main) {
        return Thread.ofPlatform().name(threadName).start(() -> {
            pin(index);
            int seen = -1;
            while (true) {
                int r;
                // Parked between iterations, so that the main thread's set-up and judging get the CPUs.
                while ((r = slot.round) == seen) {
                    LockSupport.park(this);
                }
                if (r == Integer.MIN_VALUE) {
                    return;
                }
                seen = r;
                try {
                    S s = state.get();
                    slot.prepared = prepare.act(s);
                    arrived.incrementAndGet();
                    while (arrived.get() < 2) {
                        if (slot.round == Integer.MIN_VALUE) {
                            return; // the other actor failed and the race was called off
                        }
                        Thread.onSpinWait();
                    }
                    int spins = ThreadLocalRandom.current().nextInt(jitter + 1);
                    for (int k = 0; k < spins; k++) {
                        Thread.onSpinWait();
                    }
                    Act ev = new Act();
                    ev.begin();
                    String out;
                    try {
                        out = act.act(s);
                    } catch (NativeException e) {
                        out = "NativeException " + e.errno();
                    } catch (RuntimeException e) {
                        out = e.getClass().getSimpleName();
                    }
                    ev.iteration = r;
                    ev.actor = threadName;
                    ev.commit();
                    slot.result = out;
                    LockSupport.unpark(main);
                } catch (Throwable t) {
                    slot.failure = t;
                    LockSupport.unpark(main);
                    return;
                }
            }
        });
    }
}
