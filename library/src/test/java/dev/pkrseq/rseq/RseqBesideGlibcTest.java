package dev.pkrseq.rseq;

import dev.pkrseq.rseq.internal.RseqRefusals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pkrseq.Errno;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** pkrseq's registration on a thread glibc registered: the kernel's EINVAL, explained, and nothing left behind. */
class RseqBesideGlibcTest {

    @AfterEach
    void nothingRegistered() {
        assertEquals(0, RseqRegistry.registeredCount());
        assertEquals(Owner.GLIBC, Rseq.owner());
    }

    /** Rseq.register() on a thread glibc registered: the kernel's EINVAL for the REGISTER operation. */
    static RseqException registerBesideGlibc() {
        Features.assumeRseq();
        RseqException e = assertThrows(RseqException.class, Rseq::register);
        assertEquals(Errno.EINVAL, e.errno());
        assertEquals(RseqException.Operation.REGISTER, e.operation());
        return e;
    }

    /** This thread's area, which glibc registered. */
    private static RseqArea glibcArea() {
        Features.assumeRseq();
        return Rseq.current().orElseThrow();
    }

    @Test
    void registerBesideGlibcGivesEinvalExplainedAsAlreadyRegisteredByGlibc() {
        RseqException e = registerBesideGlibc();
        assertEquals("this thread is already registered (by glibc)", e.explanation());
        assertTrue(e.getMessage().matches("rseq\\(0x[0-9a-f]+, 32, 0, 0x53053053\\) failed: EINVAL \\(Invalid argument\\):"
                + " this thread is already registered \\(by glibc\\)"), e.getMessage());
    }

    @Test
    void registerBesideGlibcLeavesThePoolUntouched() {
        Features.assumeRseq();
        RseqRegistry.Snapshot before = RseqRegistry.snapshot();
        assertThrows(RseqException.class, Rseq::register);
        RseqRegistry.Snapshot after = RseqRegistry.snapshot();
        assertEquals(before.pages(), after.pages());
        assertEquals(after.slots(), after.free());
        assertTrue(after.inUse().isEmpty());
    }

    @Test
    void unregisterLeavesGlibcsRegistrationAlone() {
        RseqArea glibc = glibcArea();
        assertFalse(Rseq.unregister());
        assertTrue(glibc.isRegistered());
        assertTrue(glibc.cpuId() >= 0);
    }

    @Test
    void rawUnregisterNamingGlibcsAreaIsRefusedBeforeTheKernel() {
        RseqArea glibc = glibcArea();
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> RseqRefusals.unregister(glibc.address(), 32, Rseq.signature()));
        assertTrue(e.getMessage().contains("which pkrseq never undoes"), e.getMessage());
        assertTrue(glibc.cpuId() >= 0);
    }

    @Test
    void rawRegisterBesideGlibcReachesTheKernelAndGetsEinval() {
        RseqArea glibc = glibcArea();
        RseqException e = assertThrows(RseqException.class,
                () -> RseqRefusals.register(glibc.address(), 32, Rseq.signature()));
        // glibc registered 32 bytes on this machine, so naming its own area gives EBUSY; any other area EINVAL.
        assertTrue(e.errno() == Errno.EBUSY || e.errno() == Errno.EINVAL, e.getMessage());
    }

    @Test
    void ensureRegisteredReturnsGlibcsArea() {
        assertSame(glibcArea(), Rseq.ensureRegistered());
    }

    @Test
    void kernelSupportsRseq() {
        Features.assumeRseq();
        assertTrue(Rseq.availability().available());
    }
}
