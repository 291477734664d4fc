package dev.pkrseq.pkey;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pkrseq.KeyClosedException;
import dev.pkrseq.KeyInUseException;
import dev.pkrseq.NativeException;
import dev.pkrseq.UntaggableSegmentException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import dev.pkrseq.lab.PageKeys;
import dev.pkrseq.sys.NativeCallEvent;
import dev.pkrseq.sys.MemoryCalls;
import dev.pkrseq.sys.PkeyCalls;
import dev.pkrseq.testing.Features;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The key's lifecycle under concurrency, jcstress style ({@link Race}): for each pair of operations that
 * may overlap (close and protect, close and tagPages, close and setRights, close and a scope's close, an
 * arena's close and protect), two threads race them thousands of times and every outcome is counted. The
 * outcomes the library documents are allowed; the forbidden ones must never come: a page that carries a
 * freed key, a raw EINVAL for a closed key, rights written onto a freed number and kept, a tag that lands
 * on memory mapped after the arena closed, a record of pkrseq's mappings naming unmapped memory. Each test
 * also requires that both orders of its pair came up, so that the race was really run.
 *
 * <p>Each pair has a BROKEN TWIN ({@link KeyOps.Broken}: the unsynchronised logic from before) that the same
 * race and judge must catch. Rights races are judged from a JFR recording of the native layer's calls: a
 * rights write that began after the other thread's pkey_free returned, and was not taken back, is the
 * forbidden "rights written onto a freed number", whatever PKRU shows afterwards.
 *
 * <p>Needs protection keys: on a machine without them every call here refuses before any race could
 * happen. {@code mvn verify -Pstress} runs every pair ten times as long.
 */
@Tag("pku")
class KeyLifecycleRaceTest {
    private static final Protection RW = Protection.READ_WRITE;
    /** Iterations per pair in the default build; the stress profile runs ten times as many. */
    private static final int ITERATIONS = Integer.getInteger("pkrseq.races", 2_000);
    /** The twin is caught within this many iterations, or the harness is broken. */
    private static final int TWIN_ITERATIONS = 600;

    @BeforeEach
    void needsPkeys() {
        Features.assumePkeys();
    }

    // ---- close vs protect, close vs tagPages ------------------------------------------------------

    /** A fresh no-access key for one iteration, through the guarded API or its broken twin's raw calls. */
    abstract static class RacedKey {
        final ProtectionKey key;
        final KeyOps ops;

        RacedKey(boolean broken) {
            if (broken) {
                key = null;
                ops = new KeyOps.Broken(PkeyCalls.pkeyAlloc(0, PkeyCalls.PKEY_DISABLE_ACCESS));
            } else {
                key = ProtectionKey.allocate(Rights.NO_ACCESS);
                ops = KeyOps.real(key);
            }
        }

        /** Frees the key after the iteration, whichever thread's close lost. */
        void free() {
            if (key != null) {
                key.close();
            } else {
                ops.close();
            }
        }
    }

    /** A key, a page of a shared arena, and who closed what. */
    static final class Tagging extends RacedKey {
        final Arena arena = Arena.ofShared();
        final MemorySegment page = Pages.allocate(arena, 1);

        Tagging(boolean broken) {
            super(broken);
        }
    }

    private static Race<Tagging> closeVersusTagging(boolean broken, boolean walk) {
        return new Race<Tagging>((broken ? "broken twin: " : "") + "close vs " + (walk ? "tagPages" : "protect"),
                () -> new Tagging(broken),
                s -> {
                    s.ops.close();
                    return "closed";
                },
                s -> {
                    if (!walk) {
                        s.ops.protect(s.page, RW);
                        return "tagged";
                    }
                    PageWalk w = s.ops.tagPages(s.page, RW);
                    PageWalk.Page p = w.pages().get(0);
                    return p.status() == PageWalk.Status.TAGGED ? "tagged" : "NativeException " + p.errno();
                },
                (s, a, b) -> {
                    if (b.startsWith("NativeException")) {
                        return "FORBIDDEN the kernel saw the freed key: " + b;
                    }
                    if (a.equals("closed") && b.equals("tagged")) {
                        return "FORBIDDEN both succeeded: the page carries freed key " + s.ops.number() + " (smaps: key "
                                + PageKeys.of(s.page).key(0) + ")";
                    }
                    if (a.equals("closed") && b.equals("KeyClosedException")) {
                        return "close first; the tagging refused with KeyClosedException";
                    }
                    if (a.equals("KeyInUseException") && b.equals("tagged")) {
                        return "tagging first; close refused with KeyInUseException";
                    }
                    return "FORBIDDEN not a documented outcome: close " + a + ", tagging " + b;
                },
                s -> {
                    s.arena.close(); // unmapping takes any tag off the page
                    s.free();
                });
    }

    @Test
    void closeAndProtectNeverBothSucceedNorReachTheKernelWithAFreedKey() throws Exception {
        assertOnlyDocumented(closeVersusTagging(false, false).run(ITERATIONS, 0));
    }

    @Test
    void closeAndTagPagesNeverBothSucceedNorReachTheKernelWithAFreedKey() throws Exception {
        assertOnlyDocumented(closeVersusTagging(false, true).run(ITERATIONS, 0));
    }

    @Test
    void brokenTwinOfCloseAndProtectIsCaught() throws Exception {
        assertCaught(closeVersusTagging(true, false).run(TWIN_ITERATIONS, 3));
    }

    @Test
    void brokenTwinOfCloseAndTagPagesIsCaught() throws Exception {
        assertCaught(closeVersusTagging(true, true).run(TWIN_ITERATIONS, 3));
    }

    // ---- close vs setRights, close vs a scope's close ---------------------------------------------

    /** A key, the racing thread's scope, and whether close had returned when the scope closed. */
    static final class RightsRace extends RacedKey {
        AutoCloseable scope;
        volatile boolean closeReturned;

        RightsRace(boolean broken) {
            super(broken);
        }
    }

    private static Race<RightsRace> closeVersusRights(boolean broken, boolean scope) {
        Race<RightsRace> r = new Race<RightsRace>((broken ? "broken twin: " : "") + "close vs " + (scope ? "scope close" : "setRights"),
                () -> new RightsRace(broken),
                s -> {
                    s.ops.close();
                    s.closeReturned = true;
                    return "closed";
                },
                s -> {
                    boolean after = s.closeReturned;
                    String out;
                    if (scope) {
                        s.scope.close();
                        out = "scope closed";
                    } else {
                        try {
                            s.ops.setRights(Rights.READ_WRITE);
                            out = "ok";
                        } catch (KeyClosedException e) {
                            out = "KeyClosedException";
                        }
                    }
                    return out + (after ? " after close returned" : "") + ", bits " + PkeyCalls.pkeyGet(s.ops.number());
                },
                (s, a, b) -> {
                    if (b.startsWith("NativeException")) {
                        return "FORBIDDEN " + b;
                    }
                    if (b.contains("after close returned") && b.endsWith("bits 0")) {
                        return "FORBIDDEN rights written onto the freed number after close returned";
                    }
                    if (!scope && b.startsWith("ok") && b.endsWith("bits 0")) {
                        return "setRights first (read-write), close after";
                    }
                    if (!scope && b.startsWith("KeyClosedException") && b.endsWith("bits " + PkeyCalls.PKEY_DISABLE_ACCESS)) {
                        return "close first; setRights refused, no access to the freed number";
                    }
                    if (scope && b.endsWith("bits 0")) {
                        return "scope first (read-write restored), close after";
                    }
                    if (scope && b.endsWith("bits " + PkeyCalls.PKEY_DISABLE_ACCESS)) {
                        return "close first; the scope wrote nothing (no access)";
                    }
                    return "FORBIDDEN not a documented outcome: close " + a + ", rights " + b;
                },
                RightsRace::free);
        // The racing thread starts each iteration with no access, as a thread that did not allocate the key has.
        return r.prepareB(s -> {
            PkeyCalls.pkeySet(s.ops.number(), scope ? 0 : PkeyCalls.PKEY_DISABLE_ACCESS);
            if (scope) {
                s.scope = s.ops.withRights(Rights.NO_ACCESS);
            }
            return "";
        });
    }

    @Test
    void closeAndSetRightsNeverLeaveRightsOnAFreedNumber(@TempDir Path dir) throws Exception {
        assertOnlyDocumented(recorded(dir, closeVersusRights(false, false), ITERATIONS, 0));
    }

    @Test
    void closeAndAScopesCloseNeverRestoreRightsOntoAFreedNumber(@TempDir Path dir) throws Exception {
        assertOnlyDocumented(recorded(dir, closeVersusRights(false, true), ITERATIONS, 0));
    }

    @Test
    void brokenTwinOfCloseAndSetRightsIsCaught(@TempDir Path dir) throws Exception {
        assertCaught(recorded(dir, closeVersusRights(true, false), TWIN_ITERATIONS, 3));
    }

    @Test
    void brokenTwinOfCloseAndAScopesCloseIsCaught(@TempDir Path dir) throws Exception {
        assertCaught(recorded(dir, closeVersusRights(true, true), TWIN_ITERATIONS, 3));
    }

    // ---- arena close vs protect -------------------------------------------------------------------

    /** A page of a shared arena, and the fresh page mapped at its address once the arena closed. */
    static final class ArenaState {
        final Arena arena = Arena.ofShared();
        final MemorySegment page = Pages.allocate(arena, 1);
        final long address = page.address();
        volatile long fresh;
    }

    private static Race<ArenaState> arenaVersusProtect(KeyOps ops) {
        long size = Pages.size();
        return new Race<ArenaState>((ops instanceof KeyOps.Broken ? "broken twin: " : "") + "arena close vs protect",
                ArenaState::new,
                s -> {
                    try {
                        s.arena.close();
                    } catch (IllegalStateException e) {
                        return "close refused (" + e.getMessage() + ")";
                    }
                    // Someone maps a page at once, where the arena's page was: it must never get the key.
                    long a = MemoryCalls.mmap(s.address, size, RW.bits(), MemoryCalls.MAP_PRIVATE | MemoryCalls.MAP_ANONYMOUS | MemoryCalls.MAP_FIXED_NOREPLACE, -1, 0);
                    s.fresh = a;
                    return a == s.address ? "closed, page mapped again" : "closed";
                },
                s -> {
                    try {
                        ops.protect(s.page, RW);
                        return "tagged";
                    } catch (UntaggableSegmentException e) {
                        return "UntaggableSegmentException " + e.reason();
                    }
                },
                (s, a, b) -> {
                    if (s.fresh == s.address && PageKeys.of(s.address, size).key(0) == ops.number()) {
                        return "FORBIDDEN the key landed on the page mapped after the arena closed";
                    }
                    if (b.startsWith("NativeException")) {
                        return "FORBIDDEN the kernel saw the arena's closed range: " + b;
                    }
                    if (a.startsWith("closed") && OwnedPages.owns(s.address)) {
                        return "FORBIDDEN pkrseq still records the unmapped pages as its own";
                    }
                    if (a.startsWith("closed") && b.equals("tagged")) {
                        return "protect first; the arena closed after it";
                    }
                    if (a.startsWith("closed") && b.equals("UntaggableSegmentException CLOSED")) {
                        return "close first; protect refused (CLOSED)";
                    }
                    if (a.startsWith("close refused") && b.equals("tagged")) {
                        return "close during protect: the arena refused to close (its scope was held)";
                    }
                    return "FORBIDDEN not a documented outcome: arena " + a + ", protect " + b;
                },
                s -> {
                    if (s.fresh != 0 && s.fresh != -1) {
                        MemoryCalls.munmap(s.fresh, size);
                    }
                    if (s.arena.scope().isAlive()) {
                        s.arena.close();
                    }
                });
    }

    @Test
    void arenaCloseAndProtectNeverTagMemoryMappedAfterTheClose() throws Exception {
        try (ProtectionKey key = ProtectionKey.allocate(Rights.NO_ACCESS)) {
            assertOnlyDocumented(arenaVersusProtect(KeyOps.real(key)).run(ITERATIONS, 0));
        }
    }

    @Test
    void brokenTwinOfArenaCloseAndProtectIsCaught() throws Exception {
        // A shared arena's close (a handshake with every thread) and the new mapping take a while: a 20 ms window.
        KeyOps.Broken twin = new KeyOps.Broken(PkeyCalls.pkeyAlloc(0, PkeyCalls.PKEY_DISABLE_ACCESS), 20_000_000);
        try {
            assertCaught(arenaVersusProtect(twin).run(TWIN_ITERATIONS, 3));
        } finally {
            twin.close();
        }
    }

    // ---- the stress profile -----------------------------------------------------------------------

    @Test
    @Tag("stress")
    void everyPairTwentyThousandTimes(@TempDir Path dir) throws Exception {
        int n = 10 * ITERATIONS;
        assertOnlyDocumented(closeVersusTagging(false, false).run(n, 0));
        assertOnlyDocumented(closeVersusTagging(false, true).run(n, 0));
        assertOnlyDocumented(recorded(dir, closeVersusRights(false, false), n, 0));
        assertOnlyDocumented(recorded(dir, closeVersusRights(false, true), n, 0));
        try (ProtectionKey key = ProtectionKey.allocate(Rights.NO_ACCESS)) {
            assertOnlyDocumented(arenaVersusProtect(KeyOps.real(key)).run(n, 0));
        }
    }

    // ---- judging ----------------------------------------------------------------------------------

    private static void assertOnlyDocumented(Race.Outcomes o) {
        System.out.println(o);
        assertEquals(0, o.forbidden(), o.toString());
        assertTrue(o.allowedKinds() >= 2, "both orders of the pair must come up, or the race did not run: " + o);
    }

    private static void assertCaught(Race.Outcomes o) {
        System.out.println(o);
        assertTrue(o.forbidden() > 0, "the harness must catch the broken twin: " + o);
    }

    /**
     * Runs a rights race under a JFR recording of the native layer and adds, per iteration, the witness the
     * recording gives: whether the racing thread wrote rights for the number after the closing thread's
     * pkey_free had returned, and kept them (its last write in the call is not no-access).
     */
    private static Race.Outcomes recorded(Path dir, Race<RightsRace> race, int iterations, int stopAfter) throws Exception {
        Path file = Files.createTempFile(dir, "race", ".jfr");
        Race.Outcomes o;
        try (Recording r = new Recording()) {
            r.enable(NativeCallEvent.NAME).withoutThreshold();
            r.enable(Race.Act.class).withoutThreshold();
            r.start();
            o = race.run(iterations, stopAfter);
            r.stop();
            r.dump(file);
        }
        List<RecordedEvent> events = RecordingFile.readAllEvents(file);
        Map<String, Instant[]> windows = new HashMap<>();
        for (RecordedEvent e : events) {
            if (e.getEventType().getName().equals("dev.pkrseq.test.RaceAct")) {
                windows.put(e.getString("actor") + "#" + e.getInt("iteration"), new Instant[] {e.getStartTime(), e.getEndTime()});
            }
        }
        Function<Long, List<RecordedEvent>> byThread = id -> events.stream()
                .filter(e -> e.getEventType().getName().equals(NativeCallEvent.NAME))
                .filter(e -> e.getThread() != null && e.getThread().getJavaThreadId() == id).toList();
        List<RecordedEvent> closer = byThread.apply(o.actorA());
        List<RecordedEvent> racer = byThread.apply(o.actorB());
        Map<String, Integer> counts = new java.util.TreeMap<>(o.counts());
        List<String> examples = new ArrayList<>(o.examples());
        int late = 0;
        for (int i = 0; i < o.iterations(); i++) {
            Instant[] wa = windows.get("race-a#" + i);
            Instant[] wb = windows.get("race-b#" + i);
            if (wa == null || wb == null) {
                continue;
            }
            Instant freed = closer.stream().filter(e -> e.getString("function").equals("pkey_free"))
                    .filter(e -> !e.getStartTime().isBefore(wa[0]) && !e.getEndTime().isAfter(wa[1]))
                    .map(RecordedEvent::getEndTime).findFirst().orElse(null);
            if (freed == null) {
                continue;
            }
            List<RecordedEvent> writes = racer.stream().filter(e -> e.getString("function").equals("pkey_set"))
                    .filter(e -> !e.getStartTime().isBefore(wb[0]) && !e.getEndTime().isAfter(wb[1])).toList();
            boolean afterFree = writes.stream().anyMatch(e -> e.getStartTime().isAfter(freed));
            String last = writes.isEmpty() ? "" : writes.get(writes.size() - 1).getString("arguments");
            if (afterFree && !last.endsWith("PKEY_DISABLE_ACCESS")) {
                late++;
                if (examples.size() < 6) {
                    examples.add("iteration " + i + ": pkey_set(" + last + ") began after pkey_free returned, and stayed");
                }
            } else if (afterFree) {
                counts.merge("(JFR) a write after pkey_free, taken back before the call returned", 1, Integer::sum);
            }
        }
        if (late > 0) {
            counts.put("FORBIDDEN (JFR) rights written onto the freed number and kept", late);
        }
        return new Race.Outcomes(o.name(), o.iterations(), counts, examples, o.actorA(), o.actorB());
    }
}
