package dev.pkrseq.rseq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pkrseq.Errno;
import dev.pkrseq.NativeException;
import org.junit.jupiter.api.Test;

/**
 * The words beside each errno, for causes the machine cannot produce on demand (ENOSYS needs a kernel
 * without rseq) and for the order of the kernel's checks.
 */
class RseqExplainTest {
    private static final RseqException.ThreadState GLIBC =
            new RseqException.ThreadState(Owner.GLIBC, 0x7f0000001000L, 32, 0x53053053);

    @Test
    void enosysIsReportedAsNotSupported() {
        RseqException e = new RseqException(RseqException.Operation.REGISTER,
                new NativeException("rseq", "0x7f0000002000, 32, 0, 0x53053053", Errno.ENOSYS.number()),
                RseqException.explain(RseqException.Operation.REGISTER, Errno.ENOSYS, 0x7f0000002000L, 32, 0x53053053,
                        RseqException.ThreadState.NONE, 28, 32));
        assertTrue(e.notSupported());
        assertTrue(e.explanation().startsWith("not supported"), e.explanation());
        assertTrue(e.getMessage().contains("failed: ENOSYS"), e.getMessage());
    }

    @Test
    void einvalOnARegisteredThreadIsAlreadyRegisteredEvenWithABadLength() {
        // The kernel checks "already registered" before length and alignment.
        assertEquals("this thread is already registered (by glibc)", RseqException.explain(RseqException.Operation.REGISTER,
                Errno.EINVAL, 0x7f0000002004L, 16, 0x53053053, GLIBC, 28, 32));
    }

    @Test
    void einvalOnAnUnregisteredThreadWithAValidLayoutBlamesAnUnknownRegistration() {
        String s = RseqException.explain(RseqException.Operation.REGISTER, Errno.EINVAL, 0x7f0000002000L, 32, 0x53053053,
                RseqException.ThreadState.NONE, 28, 32);
        assertTrue(s.contains("someone pkrseq does not know"), s);
    }

    @Test
    void lengthThatIsNeither32NorTheFeatureSizeIsNamed() {
        assertEquals("length 33 is neither 32 nor at least the kernel's feature size (40)",
                RseqException.badLayout(0x7f0000002000L, 33, 40, 32));
        assertEquals(null, RseqException.badLayout(0x7f0000002000L, 40, 40, 32));
    }

    @Test
    void alignmentBeyond32FollowsAtRseqAlign() {
        assertEquals("area 0x7f0000002020 is not aligned to AT_RSEQ_ALIGN (64 bytes)",
                RseqException.badLayout(0x7f0000002020L, 64, 40, 64));
    }

    @Test
    void epermOnAThreadWithoutRegistrationIsADenialNotASignatureMismatch() {
        // The kernel gives EPERM only for the registered area with another signature; none is registered.
        String s = RseqException.explain(RseqException.Operation.REGISTER, Errno.EPERM, 0x7f0000002000L, 32, 0x53053053,
                RseqException.ThreadState.NONE, 28, 32);
        assertTrue(s.contains("no registration pkrseq knows of") && s.endsWith(RseqException.DENIED), s);
        String u = RseqException.explain(RseqException.Operation.UNREGISTER, Errno.EPERM, 0x7f0000002000L, 32, 0x53053053,
                RseqException.ThreadState.NONE, 28, 32);
        assertTrue(u.endsWith(RseqException.DENIED), u);
    }

    @Test
    void epermNamingTheRegisteredAreaIsStillTheSignatureMismatch() {
        String s = RseqException.explain(RseqException.Operation.REGISTER, Errno.EPERM, 0x7f0000001000L, 32, 0x12345678,
                GLIBC, 28, 32);
        assertEquals("this area is already registered for this thread with another signature (0x53053053, not 0x12345678)",
                s);
    }

    @Test
    void anErrnoTheKernelsRseqNeverGivesIsADenial() {
        assertEquals("the kernel's rseq never gives EACCES to a registration: " + RseqException.DENIED,
                RseqException.explain(RseqException.Operation.REGISTER, Errno.EACCES, 0x7f0000002000L, 32, 0x53053053,
                        RseqException.ThreadState.NONE, 28, 32));
    }

    @Test
    void availabilityNamesEachAnswer() {
        assertTrue(new RseqAvailability(Errno.EINVAL, 22).available());
        assertEquals(null, new RseqAvailability(Errno.EINVAL, 22).reason());
        assertTrue(new RseqAvailability(Errno.ENOSYS, 38).reason().startsWith("not supported"));
        RseqAvailability eperm = new RseqAvailability(Errno.EPERM, 1);
        assertTrue(eperm.denied());
        assertTrue(eperm.reason().startsWith("rseq is denied here: rseq(NULL, 0, 0, 0) failed with EPERM"), eperm.reason());
        assertTrue(new RseqAvailability(Errno.UNKNOWN, 4095).reason().contains("failed with errno 4095"));
    }
}
