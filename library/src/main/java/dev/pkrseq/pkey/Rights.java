package dev.pkrseq.pkey;

import dev.pkrseq.InvalidRightsException;
import java.util.Locale;

import dev.pkrseq.sys.PkeyCalls;

/**
 * What a thread may do with the pages of one protection key: the two PKRU bits of that key.
 *
 * <p>Rights are per thread. A page's own protection ({@code PROT_*}) still applies on top: rights can
 * only take away.
 */
public enum Rights {
    /** Neither bit set: reads and writes allowed (as far as the page protection allows). */
    READ_WRITE(0),
    /** {@code PKEY_DISABLE_WRITE}: reads allowed, writes fault. */
    NO_WRITE(PkeyCalls.PKEY_DISABLE_WRITE),
    /** {@code PKEY_DISABLE_ACCESS}: reads and writes fault (instruction fetches do not). */
    NO_ACCESS(PkeyCalls.PKEY_DISABLE_ACCESS);

    private final int bits;

    Rights(int bits) {
        this.bits = bits;
    }

    /**
     * The value pkey_alloc, pkey_set and pkey_get use.
     *
     * @return 0, {@code PKEY_DISABLE_WRITE} (2) or {@code PKEY_DISABLE_ACCESS} (1)
     */
    public int bits() {
        return bits;
    }

    /**
     * The rights two PKRU bits grant. Both bits set (access and write disabled) grant no access.
     *
     * @param bits 0 to 3: bit 0 is access-disable, bit 1 is write-disable
     * @return the rights
     * @throws InvalidRightsException for a value outside 0 to 3
     */
    public static Rights ofBits(int bits) {
        if ((bits & ~(PkeyCalls.PKEY_DISABLE_ACCESS | PkeyCalls.PKEY_DISABLE_WRITE)) != 0) {
            throw new InvalidRightsException(bits);
        }
        if ((bits & PkeyCalls.PKEY_DISABLE_ACCESS) != 0) {
            return NO_ACCESS;
        }
        return (bits & PkeyCalls.PKEY_DISABLE_WRITE) != 0 ? NO_WRITE : READ_WRITE;
    }

    /**
     * Whether these rights deny anything.
     *
     * @return false only for {@link #READ_WRITE}
     */
    public boolean denies() {
        return this != READ_WRITE;
    }

    /**
     * The name reports use.
     *
     * @return "read-write", "no-write" or "no-access"
     */
    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
}
