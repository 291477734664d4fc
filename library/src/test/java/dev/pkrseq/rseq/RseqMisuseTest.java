package dev.pkrseq.rseq;

import dev.pkrseq.rseq.internal.RseqRefusals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pkrseq.VirtualThreadException;
import dev.pkrseq.RseqAreaGoneException;
import java.util.concurrent.atomic.AtomicReference;

import dev.pkrseq.lab.ChildJvm;
import dev.pkrseq.lab.rseq.RseqExperiments;
import dev.pkrseq.Errno;
import dev.pkrseq.testing.CarriesOn;
import dev.pkrseq.testing.Features;
import dev.pkrseq.testing.Threads;
import org.junit.jupiter.api.Test;

/**
 * The rseq rows of the misuse table (README.md), one test per row: the exception type, a
 * message that names the problem, and the JVM carries on. pkrseq's own registration exists only where
 * glibc did not register, so those rows run in a child JVM with {@code GLIBC_TUNABLES=glibc.pthread.rseq=0}
 * ({@link RseqMisuseChild}); the rows about glibc's registration run here.
 */
class RseqMisuseTest {
    private static ChildJvm.Result child;

    private static synchronized ChildJvm.Result child() {
        if (child == null) {
            child = ChildJvm.of(RseqMisuseChild.class).env("GLIBC_TUNABLES", RseqExperiments.TUNABLE).run();
            assertEquals(0, child.exitCode(), child.stderr() + child.stdout());
            assertEquals("none", child.value("owner="), "glibc must not register the child's threads");
            assertEquals("0", child.value("registered.after="), "the child leaves nothing registered");
        }
        return child;
    }

    @Test
    void registeringFromAThreadGlibcOwnsGivesRseqExceptionEinval() {
        RseqException e = RseqBesideGlibcTest.registerBesideGlibc();
        assertTrue(e.getMessage().endsWith("failed: EINVAL (Invalid argument): this thread is already registered (by glibc)"),
                e.getMessage());
        assertEquals(Owner.GLIBC, Rseq.owner(), "glibc's registration is untouched");
        assertEquals(0, RseqRegistry.registeredCount(), "the pool handed out nothing");
        CarriesOn.check();
    }

    @Test
    void registeringTwiceReturnsTheSameRegistrationAndTheSameAreaAgainGivesEbusy() {
        Features.assumeRseq();
        ChildJvm.Result r = child();
        assertEquals("true", r.value("twice.same="), "register() twice on one thread: one registration");
        String error = r.value("twice.error=");
        assertTrue(error.startsWith("RseqException|rseq("), error);
        assertTrue(error.contains("failed: EBUSY"), error);
        assertTrue(error.contains("this area is already registered for this thread"), error);
        assertEquals("cpu-ok,pkrseq", r.value("twice.after="), "the registration carries on");
        assertEquals("true", r.value("twice.unregister="));
    }

    @Test
    void unregisteringWhatWasNeverRegisteredReturnsFalseAndTheRawCallGivesEinval() {
        Features.assumeRseq();
        ChildJvm.Result r = child();
        assertEquals("false", r.value("never.unregister="), "Rseq.unregister() on a thread pkrseq never registered");
        String error = r.value("never.error=");
        assertTrue(error.startsWith("RseqException|rseq("), error);
        assertTrue(error.matches("RseqException\\|rseq\\(0x[0-9a-f]+, \\d+, 1, 0x53053053\\) .*"), "flags 1 = unregister: " + error);
        assertTrue(error.contains("failed: EINVAL"), error);
        assertTrue(error.contains("this thread has no registration pkrseq knows of"), error);
        assertEquals("cpu-ok,pkrseq", r.value("never.after="), "the thread can still register");
    }

    @Test
    void unregisteringBesideGlibcLeavesGlibcsRegistrationAlone() {
        Features.assumeRseq();
        assertFalse(Rseq.unregister(), "pkrseq never undoes glibc's registration");
        long other = Rseq.current().orElseThrow().address() + 4096;
        RseqException e = assertThrows(RseqException.class,
                () -> RseqRefusals.unregister(other, Rseq.registrationLength(), Rseq.signature()));
        assertEquals(Errno.EINVAL, e.errno());
        assertTrue(e.getMessage().contains("the thread's registered area is 0x"), e.getMessage());
        assertTrue(e.getMessage().contains("(by glibc), not 0x" + Long.toHexString(other)), e.getMessage());
        assertEquals(Owner.GLIBC, Rseq.owner());
        CarriesOn.check();
    }

    @Test
    void readingTheRseqAreaOfAThreadThatHasEndedGivesRseqAreaGoneException() throws Exception {
        Features.assumeRseq();
        AtomicReference<RseqView> view = new AtomicReference<>();
        Thread t = Thread.ofPlatform().name("ended-owner").start(() -> view.set(Rseq.current().orElseThrow().share()));
        t.join();
        RseqAreaGoneException e = assertThrows(RseqAreaGoneException.class, () -> view.get().cpuId());
        assertEquals(RseqAreaGoneException.Reason.THREAD_ENDED, e.reason());
        assertTrue(e.getMessage().startsWith("cannot read the rseq area of thread 'ended-owner' (tid "), e.getMessage());
        assertTrue(e.getMessage().endsWith("): the thread has ended"), e.getMessage());
        assertFalse(view.get().isOpen());
        CarriesOn.check();
    }

    @Test
    void takingAnRseqHandleOnAVirtualThreadGivesVirtualThreadException() throws Exception {
        Features.assumeRseq();
        AtomicReference<Integer> cpu = new AtomicReference<>();
        Throwable thrown = Threads.thrownOn(Thread.ofVirtual().name("misuse-vt"), () -> {
            try {
                Rseq.current();
            } finally {
                cpu.set(Rseq.cpuId());
            }
        });
        assertEquals(VirtualThreadException.class, thrown.getClass());
        assertTrue(thrown.getMessage().startsWith("Rseq.current() refused on virtual thread 'misuse-vt'"), thrown.getMessage());
        assertTrue(thrown.getMessage().contains("Use Rseq.cpuId()"), thrown.getMessage());
        assertTrue(cpu.get() >= 0, "Rseq.cpuId() works on the virtual thread: " + cpu.get());
        CarriesOn.check();
    }

    @Test
    void readingAnotherThreadsRseqHandleGivesWrongThreadException() throws Exception {
        Features.assumeRseq();
        RseqArea mine = Rseq.current().orElseThrow();
        Throwable thrown = Threads.thrownOn(Thread.ofPlatform().name("not-the-owner"), mine::cpuId);
        assertEquals(WrongThreadException.class, thrown.getClass());
        assertTrue(thrown.getMessage().contains("not to thread 'not-the-owner'"), thrown.getMessage());
        assertTrue(thrown.getMessage().contains("share()"), thrown.getMessage());
        CarriesOn.check();
    }
}
