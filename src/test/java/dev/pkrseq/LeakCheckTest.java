package dev.pkrseq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pkrseq.pkey.Pkeys;
import dev.pkrseq.pkey.Pkru;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

/**
 * Runs after every other test class (junit-platform.properties orders classes by {@link Order}): reads
 * this JVM's smaps and the free keys, so that no test can leak a tagged page, a key or a PKRU change
 * unnoticed.
 */
@Order(Integer.MAX_VALUE)
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
