package dev.pkrseq.pkey;

import java.util.StringJoiner;

/**
 * A page protection: which of read, write and execute the page table allows, what {@code mmap} and
 * {@code pkey_mprotect} call {@code PROT_READ}, {@code PROT_WRITE} and {@code PROT_EXEC}. A protection key
 * narrows it further per thread ({@link Rights}); it never widens it. On x86 a writable page is also
 * readable, whatever the bits say.
 *
 * @param read {@code PROT_READ}
 * @param write {@code PROT_WRITE}
 * @param execute {@code PROT_EXEC}
 */
public record Protection(boolean read, boolean write, boolean execute) {
    /** {@code PROT_NONE}: no access at all. */
    public static final Protection NONE = new Protection(false, false, false);
    /** {@code PROT_READ}. */
    public static final Protection READ = new Protection(true, false, false);
    /** {@code PROT_READ | PROT_WRITE}: ordinary data. */
    public static final Protection READ_WRITE = new Protection(true, true, false);
    /** {@code PROT_READ | PROT_EXEC}: ordinary code. */
    public static final Protection READ_EXECUTE = new Protection(true, false, true);
    /** {@code PROT_EXEC} alone: on x86 with protection keys, the kernel moves such pages to its execute-only key. */
    public static final Protection EXECUTE = new Protection(false, false, true);

    private static final int PROT_READ = 1;
    private static final int PROT_WRITE = 2;
    private static final int PROT_EXEC = 4;

    /**
     * The protection of C's {@code PROT_*} bits; bits other than these three are ignored.
     *
     * @param bits {@code PROT_READ} (1), {@code PROT_WRITE} (2), {@code PROT_EXEC} (4), or'ed
     * @return the protection
     */
    public static Protection ofBits(int bits) {
        return new Protection((bits & PROT_READ) != 0, (bits & PROT_WRITE) != 0, (bits & PROT_EXEC) != 0);
    }

    /**
     * The protection of a permission string as /proc/self/maps writes it.
     *
     * @param perms for example {@code rw-p}
     * @return the protection its first three characters give
     */
    public static Protection ofPerms(String perms) {
        return new Protection(perms.charAt(0) == 'r', perms.charAt(1) == 'w', perms.charAt(2) == 'x');
    }

    /**
     * The C value.
     *
     * @return the {@code PROT_*} bits, or'ed
     */
    public int bits() {
        return (read ? PROT_READ : 0) | (write ? PROT_WRITE : 0) | (execute ? PROT_EXEC : 0);
    }

    /**
     * The C spelling.
     *
     * @return for example {@code PROT_READ|PROT_WRITE}, or {@code PROT_NONE}
     */
    @Override
    public String toString() {
        StringJoiner j = new StringJoiner("|");
        if (read) {
            j.add("PROT_READ");
        }
        if (write) {
            j.add("PROT_WRITE");
        }
        if (execute) {
            j.add("PROT_EXEC");
        }
        return j.length() == 0 ? "PROT_NONE" : j.toString();
    }
}
