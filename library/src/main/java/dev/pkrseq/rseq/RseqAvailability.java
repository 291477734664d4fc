package dev.pkrseq.rseq;

import dev.pkrseq.Errno;

/**
 * Whether rseq works in this process, as {@code rseq(NULL, 0, 0, 0)} answers: a call that can never
 * register anything gives EINVAL where rseq works. ENOSYS means the kernel has no rseq (or a filter
 * pretends so); any other errno means something denies it (a seccomp filter, a security module).
 * {@link Rseq#availability()} asks.
 *
 * @param errno the errno by name ({@link Errno#UNKNOWN} for a number outside the table)
 * @param errnoValue the errno as a number
 */
public record RseqAvailability(Errno errno, int errnoValue) {
    /**
     * Whether rseq works: the kernel checked the arguments and found them invalid (EINVAL).
     *
     * @return true for EINVAL
     */
    public boolean available() {
        return errno == Errno.EINVAL;
    }

    /**
     * Whether the kernel has no rseq system call (ENOSYS), or a filter answers as if it had none.
     *
     * @return true for ENOSYS
     */
    public boolean missing() {
        return errno == Errno.ENOSYS;
    }

    /**
     * Whether something other than the kernel's rseq refused the call: an errno that
     * {@code rseq(NULL, 0, 0, 0)} never gives by itself, such as a seccomp filter's EPERM.
     *
     * @return true for any errno but EINVAL and ENOSYS
     */
    public boolean denied() {
        return !available() && !missing();
    }

    /**
     * Why rseq does not work, in words, naming the errno.
     *
     * @return null when it works
     */
    public String reason() {
        if (available()) {
            return null;
        }
        if (missing()) {
            return RseqException.NOT_SUPPORTED;
        }
        return RseqException.denied(errno, errnoValue);
    }
}
