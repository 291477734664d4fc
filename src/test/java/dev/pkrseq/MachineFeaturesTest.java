package dev.pkrseq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

import dev.pkrseq.rseq.Rseq;
import dev.pkrseq.sys.Sys;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Guards against silent skips. Tests that need pku or rseq skip where they are missing, so this test
 * proves that "missing" means missing: the features named in {@code pkrseq.require} must be present,
 * pku must work wherever /proc/cpuinfo says the CPU has it and the kernel enabled it, and the detection
 * the assumptions use must agree with what the kernel reports.
 */
@Tag("pku")
class MachineFeaturesTest {
    private static final Set<String> REQUIRED = required(System.getProperty("pkrseq.require", ""), Sys.cpuFlags());

    /**
     * The features whose absence fails the build: those {@code pkrseq.require} names, and pku wherever
     * /proc/cpuinfo shows pku (the CPU has protection keys) and ospke (the kernel enabled them), so that a
     * PKU machine runs the protection-key tests with no flag.
     */
    static Set<String> required(String property, String cpuFlags) {
        Set<String> required = Arrays.stream(property.split(",")).map(String::trim).filter(s -> !s.isEmpty())
                .collect(Collectors.toCollection(TreeSet::new));
        if (cpuFlagsShowPkeys(cpuFlags)) {
            required.add("pku");
        }
        return required;
    }

    /** Whether /proc/cpuinfo's flags (as {@link Sys#cpuFlags()} gives them) show both pku and ospke. */
    static boolean cpuFlagsShowPkeys(String flags) {
        return flags.contains(" pku ") && flags.contains(" ospke ");
    }

    @Test
    void requiredFeaturesArePresent() {
        if (REQUIRED.contains("rseq")) {
            assertTrue(Features.rseqRegistered(), "pkrseq.require names rseq, but this thread has no registered rseq area");
        }
        if (REQUIRED.contains("pku")) {
            assertTrue(Features.pkeysWork(), (cpuFlagsShowPkeys(Sys.cpuFlags())
                    ? "/proc/cpuinfo shows pku and ospke, so the protection-key tests must run"
                    : "pkrseq.require names pku") + ", but pkey_alloc fails here: they would all skip");
        }
    }

    @Test
    void pkuIsRequiredByItselfWhereCpuinfoShowsPkuAndOspke() {
        assertEquals(Set.of("pku", "rseq"), required("rseq", " fpu pku ospke avx "));
        assertEquals(Set.of("pku"), required("", " ospke pku "));
        assertEquals(Set.of("rseq"), required("rseq", " fpu pku avx "), "pku without ospke: the kernel did not enable it");
        assertEquals(Set.of("rseq"), required("rseq", " fpu ospke "), "ospke without pku");
        assertEquals(Set.of("pku", "rseq"), required(" rseq , pku ", " fpu "), "the property still requires more");
    }

    @Test
    void pkeyDetectionAgreesWithCpuFlags() {
        String flags = Sys.cpuFlags();
        boolean enabled = cpuFlagsShowPkeys(flags);
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
