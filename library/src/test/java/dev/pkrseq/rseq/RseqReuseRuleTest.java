package dev.pkrseq.rseq;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.pkrseq.lab.ChildJvm;
import dev.pkrseq.lab.rseq.RseqExperiments;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The pool's reuse rule, in a child JVM where glibc registers nothing: an area goes back to the pool when
 * its thread unregisters, or, for a thread that ended without unregistering, only once its kernel task
 * is gone.
 */
class RseqReuseRuleTest {
    private static ChildJvm.Result child;

    @BeforeAll
    static void runChild() {
        Features.assumeRseq();
        child = ChildJvm.of(ReuseRuleChild.class).env("GLIBC_TUNABLES", RseqExperiments.TUNABLE).run();
        assertEquals(0, child.exitCode(), child.stderr() + child.stdout());
        assertEquals("none", child.value("owner="), "the child's threads must not be registered by glibc");
    }

    @Test
    void areaOfAnEndedThreadShowsAsEndedWhileItsTaskExists() {
        assertEquals("ENDED", child.value("held.state="));
    }

    @Test
    void areaOfAnEndedThreadIsNotHandedOutWhileItsTaskExists() {
        assertEquals("false", child.value("held.sameAddress="));
        assertEquals("0", child.value("held.reclaimedWhileTaskExists="));
    }

    @Test
    void areaOfAnEndedThreadIsReclaimedOnceItsTaskIsGone() {
        assertEquals("1", child.value("held.reclaimedAfterTaskExit="));
    }

    @Test
    void areaOfAnEndedThreadIsHandedOutAgainOnceItsTaskIsGone() {
        assertEquals("1", child.value("gone.countBeforeExit="));
        assertEquals("true", child.value("gone.taskDirectoryGone="));
        assertEquals("true", child.value("gone.sameAddress="));
    }

    @Test
    void unregisteredAreaIsHandedOutAgainAtOnce() {
        assertEquals("true", child.value("unregistered.sameAddress="));
    }

    @Test
    void viewOfAnOwnAreaRefusesReadsOnceItsThreadUnregisters() {
        int cpu = Integer.parseInt(child.value("view.before="));
        assertEquals(true, cpu >= 0, "cpu " + cpu);
        assertEquals("UNREGISTERED", child.value("view.after="));
    }

    @Test
    void childLeavesNothingRegistered() {
        assertEquals("0", child.value("registered.after="));
    }
}
