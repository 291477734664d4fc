package dev.pkrseq.testing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/** Constants that must equal the C ABI's numbers (offsets, sizes), checked as one table. */
public final class CValues {
    private CValues() {
    }

    /**
     * Asserts that each Java constant equals its C number.
     *
     * @param what the struct or family, for the message
     * @param c the numbers the C headers give, in order
     * @param java the Java constants, in the same order
     */
    public static void assertNumbers(String what, long[] c, long... java) {
        assertArrayEquals(c, java, what + ": the Java constant at this index is not the C header's number");
    }
}
