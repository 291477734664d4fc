package dev.pkrseq.sys;

import dev.pkrseq.UnavailableException;

import java.util.Locale;

/**
 * System call numbers, one column per architecture.
 *
 * <p>The table is complete for x86_64 (arch/x86/entry/syscalls/syscall_64.tbl) for every call pkrseq
 * makes or discusses. On any other architecture {@link #number()} refuses: calling a number from the
 * wrong table would run an unrelated system call.
 */
public enum Syscall {
    /** {@code mprotect(2)}. */
    MPROTECT(10),
    /** {@code sched_yield(2)}. */
    SCHED_YIELD(24),
    /** {@code getpid(2)}. */
    GETPID(39),
    /** {@code ptrace(2)}. */
    PTRACE(101),
    /** {@code prctl(2)}. */
    PRCTL(157),
    /** {@code arch_prctl(2)}; x86_64 only. */
    ARCH_PRCTL(158),
    /** {@code gettid(2)}. */
    GETTID(186),
    /** {@code futex(2)}. */
    FUTEX(202),
    /** {@code sched_setaffinity(2)}. */
    SCHED_SETAFFINITY(203),
    /** {@code sched_getaffinity(2)}. */
    SCHED_GETAFFINITY(204),
    /** {@code tgkill(2)}. */
    TGKILL(234),
    /** {@code getcpu(2)}. */
    GETCPU(309),
    /** {@code pkey_mprotect(2)}. */
    PKEY_MPROTECT(329),
    /** {@code pkey_alloc(2)}. */
    PKEY_ALLOC(330),
    /** {@code pkey_free(2)}. */
    PKEY_FREE(331),
    /** {@code membarrier(2)}. */
    MEMBARRIER(324),
    /** {@code rseq(2)}. */
    RSEQ(334);

    private static final String ARCH = System.getProperty("os.arch", "unknown").toLowerCase(Locale.ROOT);
    private static final boolean X86_64 = ARCH.equals("amd64") || ARCH.equals("x86_64");

    private final int x86_64;

    Syscall(int x86_64) {
        this.x86_64 = x86_64;
    }

    /**
     * This call's number on the running architecture.
     *
     * @return the number to pass to {@code syscall(2)}
     * @throws dev.pkrseq.UnavailableException on an architecture without a table
     */
    public int number() {
        if (!X86_64) {
            throw unsupportedArchitecture();
        }
        return x86_64;
    }

    /**
     * Whether the running architecture has a table here.
     *
     * @return true on x86_64
     */
    public static boolean architectureSupported() {
        return X86_64;
    }

    /**
     * The architecture as the JVM names it.
     *
     * @return for example {@code "amd64"}
     */
    public static String architecture() {
        return ARCH;
    }

    static UnavailableException unsupportedArchitecture() {
        return new UnavailableException(UnavailableException.Feature.ARCHITECTURE, "unsupported architecture: " + ARCH
                + " (pkrseq's native layer has system call numbers for x86_64 only)");
    }
}
