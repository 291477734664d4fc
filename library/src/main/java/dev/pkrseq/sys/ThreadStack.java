package dev.pkrseq.sys;

/**
 * A thread's usable stack, {@code [low, high)}, as {@code pthread_attr_getstack} reports it.
 *
 * @param low lowest address (the stack grows down towards it)
 * @param high one past the highest address
 */
public record ThreadStack(long low, long high) {
    /**
     * Whether an address lies on this stack.
     *
     * @param address the address
     * @return true when {@code low <= address < high}
     */
    public boolean contains(long address) {
        return Long.compareUnsigned(address, low) >= 0 && Long.compareUnsigned(address, high) < 0;
    }

    /**
     * The stack's size.
     *
     * @return bytes
     */
    public long size() {
        return high - low;
    }
}
