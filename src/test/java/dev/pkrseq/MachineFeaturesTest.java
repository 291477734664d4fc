package dev.pkrseq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Set;
import java.util.stream.Collectors;

import dev.pkrseq.rseq.Rseq;
import dev.pkrseq.sys.Sys;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Test;

/**
 * Guards against silent skips. Tests that need pku or rseq skip where they are missing, so this test
 * proves that "missing" means missing: the features named in {@code pkrseq.require} must be present,
 * and the detection the assumptions use must agree with what the kernel reports.
 */
class MachineFeaturesTest {
    private static final Set<String> REQUIRED = Arrays.stream(System.getProperty("pkrseq.require", "").split(","))
            .map(String::trim).filter(s -> !s.isEmpty()).collect(Collectors.toSet());

    @Test
    void requiredFeaturesArePresent() {
        if (REQUIRED.contains("rseq")) {
            assertTrue(Features.rseqRegistered(), "pkrseq.require names rseq, but this thread has no registered rseq area");
        }
        if (REQUIRED.contains("pku")) {
            assertTrue(Features.pkeysWork(), "pkrseq.require names pku, but pkey_alloc fails here");
        }
    }

    @Test
    void pkeyDetectionAgreesWithCpuFlags() {
        String flags = Sys.cpuFlags();
        boolean enabled = flags.contains(" pku ") && flags.contains(" ospke ");
        assertEquals(enabled, Features.pkeysWork(),
                "/proc/cpuinfo says pku+ospke=" + enabled + " but pkey_alloc says otherwise: pkey tests would skip wrongly");
        assertEquals(flags.contains(" ospke "), Sys.pkruUsable());
    }

    @Test
    void rseqDetectionAgreesWithGlibc() {
        // glibc 2.35+ on a kernel with rseq registers every thread unless the tunable turns it off.
        boolean tunableOff = String.valueOf(System.getenv("GLIBC_TUNABLES")).contains("glibc.pthread.rseq=0");
        boolean glibcRegisters = Rseq.glibcOffset().isPresent() && !tunableOff;
        if (glibcRegisters) {
            assertTrue(Rseq.glibcSize() > 0, "glibc exports __rseq_offset but __rseq_size is 0 without the tunable");
            assertTrue(Features.rseqRegistered(), "glibc registered rseq but pkrseq does not see the area");
        }
    }
}
