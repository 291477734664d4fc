package dev.pkrseq.rseq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pkrseq.lab.ChildJvm;
import dev.pkrseq.lab.rseq.RseqExperiments;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The per-CPU counter on pkrseq's own registration, in a child JVM where glibc registers nothing
 * ({@code GLIBC_TUNABLES=glibc.pthread.rseq=0}): the area variant, each thread's pool area passed in.
 */
class PerCpuOwnRegistrationTest {
    private static ChildJvm.Result child;

    @BeforeAll
    static void runChild() {
        Features.assumeRseq();
        child = ChildJvm.of(PerCpuOwnChild.class).env("GLIBC_TUNABLES", RseqExperiments.TUNABLE).run();
        assertEquals(0, child.exitCode(), child.stderr() + child.stdout());
        assertEquals("0", child.value("glibcSize="), "glibc must not register the child's threads");
        assertEquals("none", child.value("ownerBefore="));
    }

    @Test
    void counterWithoutGlibcsRegistrationUsesPkrseqsOwn() {
        assertEquals("pkrseq", child.value("counterOwner="));
    }

    @Test
    void sumIsExactFromTwoThreadsWithForcedMigrations() {
        assertEquals(child.value("two.expected="), child.value("two.sum="));
        assertTrue(Long.parseLong(child.value("two.changes=")) > 0);
    }

    @Test
    void sumIsExactFromFourThreadsPerCpuWithForcedMigrations() {
        assertEquals(child.value("many.expected="), child.value("many.sum="));
    }

    @Test
    void abortPathRunsOnPkrseqsOwnAreas() {
        assertEquals(child.value("widened.expected="), child.value("widened.sum="));
        assertTrue(Long.parseLong(child.value("widened.restarts=")) > 0, child.stdout());
    }

    @Test
    void firstAddRegistersTheThreadAndLaterAddsReuseTheArea() {
        assertEquals("pkrseq", child.value("main.ownerAfterAdd="));
        assertEquals("true", child.value("main.sameArea="));
        assertEquals("true", child.value("main.unregistered="));
    }

    @Test
    void virtualThreadIsRefusedWithAReasonAndAddsNothing() {
        String v = child.value("virtual=");
        assertTrue(v.startsWith("refused: ") && v.contains("virtual thread") && v.contains("platform thread"), v);
        assertEquals(Long.parseLong(child.value("two.expected=")) + 2, Long.parseLong(child.value("sumAfter=")));
    }
}
