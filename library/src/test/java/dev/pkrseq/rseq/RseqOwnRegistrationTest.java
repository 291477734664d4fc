package dev.pkrseq.rseq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pkrseq.lab.ChildJvm;
import dev.pkrseq.lab.rseq.RseqExperiments;
import dev.pkrseq.sys.ThreadCalls;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * pkrseq's own registration and the kernel's error table, in a child JVM where glibc registers nothing
 * ({@code GLIBC_TUNABLES=glibc.pthread.rseq=0}). Each row is provoked on the child's main thread before,
 * during and after a registration; the child prints {@code errors.<case>=<ERRNO>|<explanation>}.
 */
class RseqOwnRegistrationTest {
    private static ChildJvm.Result child;

    @BeforeAll
    static void runChild() {
        Features.assumeRseq();
        child = RseqExperiments.start("own-registration", "unregister", "errors").run();
        assertEquals(0, child.exitCode(), child.stderr() + child.stdout());
        assertEquals("none", child.value("child.owner="), "glibc must not register the child's threads");
    }

    @Test
    void ownerIsNoneBeforePkrseqWhileRegisteredAndNoneAfter() {
        assertEquals("none", child.value("own-registration.before="));
        assertEquals("pkrseq", child.value("own-registration.during="));
        assertEquals("none", child.value("own-registration.after="));
    }

    @Test
    void ownRegistrationCpuIdEqualsTheGetcpuSystemCall() {
        assertEquals(child.value("own-registration.getcpu="), child.value("own-registration.cpuId="));
    }

    @Test
    void secondRegisterOnTheSameThreadReturnsTheSameRegistration() {
        assertEquals("true", child.value("own-registration.sameOnSecondRegister="));
    }

    @Test
    void ownRegistrationCoversMmCidAndNodeIdWhereTheKernelHasThem() {
        if (Rseq.kernelFeatureSize() >= 28) {
            assertEquals("28", child.value("own-registration.covered="));
            int cid = Integer.parseInt(child.value("own-registration.mmCid="));
            assertTrue(cid >= 0 && cid < ThreadCalls.onlineCpus(), "mm_cid " + cid);
            assertTrue(Integer.parseInt(child.value("own-registration.nodeId=")) >= 0);
        } else {
            assertEquals("absent", child.value("own-registration.mmCid="));
        }
    }

    @Test
    void ownAreaIsAlignedAndComesFromThePool() {
        long address = Long.parseLong(child.value("own-registration.address="));
        assertEquals(0, address % Rseq.registrationAlign());
    }

    @Test
    void unregisterResetsCpuIdToMinusOneAndTheHandleReadsMinusOne() {
        assertEquals("-1", child.value("unregister.cpuIdAfter="));
        assertEquals("-1", child.value("unregister.handleAfter="));
        assertEquals("none", child.value("unregister.owner="));
    }

    @Test
    void secondUnregisterGivesEinval() {
        assertEquals("EINVAL", child.value("unregister.again="));
    }

    @Test
    void nullRegistrationProbeSaysRseqIsSupported() {
        assertEquals("true", child.value("errors.supported="));
    }

    @Test
    void lengthBelow32GivesEinvalNamingTheLength() {
        assertRefusal("short-length", "EINVAL", "length 16 is below the minimum of 32 bytes");
    }

    @Test
    void misalignedAreaGivesEinvalNamingTheAlignment() {
        assertRefusal("misaligned", "EINVAL", "is not aligned to 32 bytes");
    }

    @Test
    void addressOutsideUserSpaceGivesEfault() {
        assertRefusal("kernel-address", "EFAULT", "is not user memory");
    }

    @Test
    void unregisterWhenNotRegisteredGivesEinval() {
        assertRefusal("unregister-unregistered", "EINVAL", "no registration");
    }

    @Test
    void sameAreaLengthAndSignatureAgainGivesEbusy() {
        assertRefusal("same-area", "EBUSY", "already registered for this thread (same area, length and signature)");
    }

    @Test
    void sameAreaWithAnotherSignatureGivesEperm() {
        assertRefusal("same-area-other-signature", "EPERM", "with another signature");
    }

    @Test
    void anotherAreaWhileRegisteredGivesEinvalAlreadyRegisteredByPkrseq() {
        assertRefusal("other-area", "EINVAL", "this thread is already registered (by pkrseq)");
    }

    @Test
    void anotherLengthWhileRegisteredGivesEinval() {
        assertRefusal("other-length", "EINVAL", "another length");
    }

    @Test
    void unregisterWithTheWrongSignatureGivesEperm() {
        assertRefusal("unregister-wrong-signature", "EPERM", "wrong signature");
    }

    @Test
    void unregisterWithTheWrongLengthGivesEinval() {
        assertRefusal("unregister-wrong-length", "EINVAL", "registered with length 32");
    }

    @Test
    void unregisterOfAnotherAreaGivesEinval() {
        assertRefusal("unregister-other-area", "EINVAL", "the thread's registered area is");
    }

    @Test
    void refusalsLeaveTheRegistrationInPlace() {
        assertEquals("true", child.value("errors.still-registered="));
    }

    @Test
    void childLeavesNothingRegistered() {
        assertEquals("0", child.value("errors.registeredAfter="));
        assertEquals("0", child.value("registered.after="));
    }

    private static void assertRefusal(String row, String errno, String explanation) {
        String v = child.value("errors." + row + "=");
        assertTrue(v.startsWith(errno + "|"), row + ": " + v);
        assertTrue(v.contains(explanation), row + ": " + v);
    }
}
