package dev.pkrseq.rseq;

import java.util.Locale;

/** Who registered a thread's struct rseq with the kernel. */
public enum Owner {
    /** glibc 2.35+ registered it when it created the thread; the area sits at thread pointer + {@code __rseq_offset}. */
    GLIBC,
    /** pkrseq registered it, where glibc did not. */
    PKRSEQ,
    /** Nobody: the thread has no registered rseq area. */
    NONE;

    /**
     * The lower-case name the reports use.
     *
     * @return "glibc", "pkrseq" or "none"
     */
    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
