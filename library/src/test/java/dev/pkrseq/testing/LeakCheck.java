package dev.pkrseq.testing;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

import dev.pkrseq.pkey.Pkeys;
import dev.pkrseq.pkey.Pkru;
import dev.pkrseq.Mapping;
import dev.pkrseq.rseq.RseqRegistry;

/**
 * The leak proof that runs after every test class ({@link LeakCheckExtension} for JUnit Jupiter classes,
 * {@link LeakCheckHook} for jqwik classes). After each class it asserts:
 * <ul>
 *   <li>no mapping of this JVM carries a non-zero protection key (one /proc/self/smaps read; on any
 *       machine, though only kernels with protection keys print the key);</li>
 *   <li>all 15 keys are allocatable (where protection keys work);</li>
 *   <li>the calling thread's PKRU equals its value when the first test class started (where protection
 *       keys work);</li>
 *   <li>pkrseq's own rseq pool has no registered area left (areas of ended threads get a few seconds
 *       for their kernel task to go).</li>
 * </ul>
 * A failure names the class that leaked. A leak is blamed once, on the class after which it first
 * shows: later classes are measured against the state the previous class left, so one leak does not
 * fail every class after it ({@code LeakCheckTest}, ordered last, asserts the absolute state once more).
 *
 * <p>Cost per class: one smaps read, and where keys work, 15 pkey_alloc/pkey_free pairs and 16
 * pkey_get calls.
 */
public final class LeakCheck {
    /** How long areas of ended threads may wait for their kernel task to go. */
    private static final long RSEQ_GRACE_MS = 5_000;

    /**
     * What the check sees at one moment.
     *
     * @param tagged mappings carrying a non-zero key, rendered
     * @param allocatable keys pkey_alloc hands out, -1 where keys do not work
     * @param pkru the calling thread's PKRU, null where keys do not work
     * @param rseq areas of the pool that are not free, rendered
     */
    record State(List<String> tagged, int allocatable, Pkru pkru, List<String> rseq) {
    }

    private static final Map<Long, Pkru> START_PKRU = new HashMap<>();
    private static State previous;
    private static int checked;
    private static String previousClass = "(start of the test run)";

    private LeakCheck() {
    }

    /** Records the state before the first class: the PKRU every later class must leave behind. */
    static synchronized void beforeClass() {
        Pkru pkru = pkru();
        if (pkru != null) {
            START_PKRU.putIfAbsent(Thread.currentThread().threadId(), pkru);
        }
        if (previous == null) {
            previous = now(false);
        }
    }

    /**
     * Checks the state after a class.
     *
     * @param testClass the class that just finished
     * @throws AssertionError naming the class and what it left behind
     */
    static synchronized void afterClass(String testClass) {
        State before = previous == null ? new State(List.of(), Pkeys.supported() ? 15 : -1, null, List.of()) : previous;
        State after = now(true);
        previous = after;
        checked++;
        String blamedBefore = previousClass;
        previousClass = testClass;
        String message = verdict(testClass, before, after, START_PKRU.get(Thread.currentThread().threadId()), blamedBefore);
        if (message != null) {
            throw new AssertionError(message);
        }
    }

    /**
     * How many classes the check has run after, in this JVM.
     *
     * @return the count
     */
    public static synchronized int classesChecked() {
        return checked;
    }

    /**
     * Compares the state a class left with the state before it.
     *
     * @param testClass the class
     * @param before the state before the class (after the previous one)
     * @param after the state after it
     * @param start the thread's PKRU at the start of the run, null where unknown
     * @param blamedBefore the class that ran before, named when the state was already dirty
     * @return the failure message, or null when the class left nothing behind
     */
    static String verdict(String testClass, State before, State after, Pkru start, String blamedBefore) {
        List<String> leaks = new ArrayList<>();
        List<String> newTags = new ArrayList<>(after.tagged());
        newTags.removeAll(before.tagged());
        if (!newTags.isEmpty()) {
            leaks.add("pages still carry a non-zero protection key: " + String.join(", ", newTags));
        }
        int allocatableBefore = before.allocatable() < 0 ? 15 : Math.min(15, before.allocatable());
        if (after.allocatable() >= 0 && after.allocatable() < allocatableBefore) {
            leaks.add("only " + after.allocatable() + " of 15 protection keys are allocatable (a key was not freed)");
        }
        Pkru expected = before.pkru() != null && !before.pkru().equals(start) ? before.pkru() : start;
        if (after.pkru() != null && expected != null && !after.pkru().equals(expected)) {
            leaks.add("thread '" + Thread.currentThread().getName() + "' has PKRU " + after.pkru() + ", not " + expected
                    + " as at the start (rights left changed)");
        }
        List<String> newRseq = new ArrayList<>(after.rseq());
        newRseq.removeAll(before.rseq());
        if (!newRseq.isEmpty()) {
            leaks.add("pkrseq's rseq pool still has registered areas: " + String.join(", ", newRseq));
        }
        if (leaks.isEmpty()) {
            return null;
        }
        boolean dirtyBefore = !before.tagged().isEmpty() || !before.rseq().isEmpty()
                || (before.allocatable() >= 0 && before.allocatable() < 15);
        return "leak check after " + testClass + ": " + String.join("; ", leaks)
                + (dirtyBefore ? " (already left before it, by " + blamedBefore + " or earlier: " + before + ")" : "");
    }

    private static State now(boolean waitForEndedRseq) {
        List<String> tagged = Pkeys.taggedMappings().stream().map(LeakCheck::render).toList();
        int allocatable = -1;
        Pkru pkru = pkru();
        if (pkru != null) {
            allocatable = Pkeys.allocatableNow();
        }
        return new State(tagged, allocatable, pkru, rseq(waitForEndedRseq));
    }

    private static Pkru pkru() {
        return Pkeys.supported() && !Thread.currentThread().isVirtual() ? Pkru.current() : null;
    }

    private static List<String> rseq(boolean wait) {
        RseqRegistry.Snapshot s;
        try {
            s = reclaimRseqPool(Duration.ofMillis(RSEQ_GRACE_MS), Duration.ofMillis(20),
                    p -> wait && p.inUse().stream().allMatch(e -> e.state() == RseqRegistry.State.ENDED));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return List.of("interrupted while waiting for ended threads' areas");
        }
        return s.inUse().stream().map(e -> String.format("0x%x %s tid %d '%s'", e.address(), e.state(), e.tid(),
                e.thread())).toList();
    }

    /**
     * Reclaims the areas of ended threads from pkrseq's rseq pool, sleeping and trying again until the pool
     * is empty, {@code grace} has passed, or {@code worthWaiting} no longer holds for what is left.
     *
     * @param grace how long to keep trying
     * @param poll the sleep between two tries
     * @param worthWaiting whether a pool that still has areas is worth another try
     * @return the pool after the last try
     * @throws InterruptedException when interrupted while sleeping
     */
    public static RseqRegistry.Snapshot reclaimRseqPool(Duration grace, Duration poll,
            Predicate<RseqRegistry.Snapshot> worthWaiting) throws InterruptedException {
        long deadline = System.nanoTime() + grace.toNanos();
        while (true) {
            RseqRegistry.reclaim();
            RseqRegistry.Snapshot s = RseqRegistry.snapshot();
            if (s.inUse().isEmpty() || !worthWaiting.test(s) || System.nanoTime() > deadline) {
                return s;
            }
            Thread.sleep(poll);
        }
    }

    private static String render(Mapping v) {
        return String.format("0x%x-0x%x %s key %d%s", v.start(), v.end(), v.perms(), v.key(),
                v.path().isEmpty() ? "" : " " + v.path());
    }
}
