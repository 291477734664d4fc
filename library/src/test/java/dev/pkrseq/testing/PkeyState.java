package dev.pkrseq.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pkrseq.pkey.Pkeys;
import dev.pkrseq.pkey.Pkru;

/**
 * What a protection-key experiment must leave as it found it: this thread's PKRU, the number of keys
 * still allocatable, and no memory tagged with a key other than 0.
 *
 * @param pkru this thread's PKRU when taken
 * @param allocatable how many keys pkey_alloc could still hand out
 */
public record PkeyState(Pkru pkru, int allocatable) {
    /**
     * The state now; needs protection keys.
     *
     * @return this thread's PKRU and the allocatable count
     */
    public static PkeyState now() {
        return new PkeyState(Pkru.current(), Pkeys.allocatableNow());
    }

    /**
     * Asserts that nothing was left behind since this state was taken.
     *
     * @param who the experiment or path, for the messages
     */
    public void assertUnchangedBy(String who) {
        assertEquals(pkru, Pkru.current(), who + " left PKRU changed");
        assertEquals(allocatable, Pkeys.allocatableNow(), who + " left a key allocated");
        assertTrue(Pkeys.taggedMappings().isEmpty(), who + " left tagged memory: " + Pkeys.taggedMappings());
    }
}
