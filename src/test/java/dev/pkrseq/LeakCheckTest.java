package dev.pkrseq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pkrseq.pkey.Pkeys;
import dev.pkrseq.pkey.Pkru;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Runs after every other JUnit Jupiter test class (junit-platform.properties orders classes by
 * {@link Order}) and asserts the absolute state once more: no tagged page, every key free, the kernel's
 * default PKRU. {@link dev.pkrseq.testing.LeakCheckExtension} checks the same after each class and
 * names the one that leaked; this test also catches a leak that accumulated unblamed.
 */
@Order(Integer.MAX_VALUE)
@Tag("pku")
class LeakCheckTest {

    @Test
    void noPageCarriesANonZeroKey() {
        assertTrue(Pkeys.taggedMappings().isEmpty(), "pages still tagged: " + Pkeys.taggedMappings());
    }

    @Test
    void allFifteenKeysAreAllocatableAgain() {
        Features.assumePkeys();
        assertEquals(15, Pkeys.allocatableNow());
    }

    @Test
    void theTestThreadsPkruIsTheKernelDefaultAgain() {
        Features.assumePkeys();
        assertEquals(Pkru.INITIAL, Pkru.current());
    }
}
