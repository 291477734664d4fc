package dev.pkrseq.pkey;

/**
 * An explicit opt-in to an operation that pkrseq otherwise refuses because it can kill the JVM it runs
 * in. Passing it moves the responsibility for the JVM's survival to the caller; pkrseq's own commands
 * pass it only in child JVMs ({@code pkrseq probe}, {@code pkrseq tls --retag-demo}).
 */
public enum Hazard {
    /**
     * Tag memory pkrseq did not map itself ({@link ProtectionKey#protect(java.lang.foreign.MemorySegment, int,
     * Hazard)}, {@link ProtectionKey#tagPages(java.lang.foreign.MemorySegment, int, Hazard)}), or retag a
     * thread's TLS ({@code dev.pkrseq.tls.Tls.retag}). Such memory is shared with code that does not know
     * about the key: malloc chunks of other threads, the Java heap, a thread's stack or TLS, libjvm's data.
     * Any thread whose PKRU denies the key and touches those pages dies of SIGSEGV, and with it the JVM,
     * at once or after the memory has been handed to someone else. pkrseq also cannot know when such memory
     * is unmapped or reused, so a key that tags it may stay unfreeable ({@link KeyInUseException}) until the
     * caller hands the pages back to key 0 the same way.
     */
    MAY_KILL_THIS_JVM
}
