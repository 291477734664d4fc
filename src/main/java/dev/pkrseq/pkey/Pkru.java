package dev.pkrseq.pkey;

import java.util.ArrayList;
import java.util.List;

import dev.pkrseq.sys.Sys;

/**
 * A PKRU value: the rights of one thread for all 16 protection keys, two bits per key (bit 2k is
 * access-disable, bit 2k+1 is write-disable).
 *
 * <p>{@link #current()} reads the calling thread's register. The value is exact: it is composed from
 * 16 {@code pkey_get} calls (critical downcalls, a few nanoseconds each), and only the thread itself
 * changes its own PKRU (a signal handler runs with its own PKRU and sigreturn puts the old one back).
 *
 * @param value the 32-bit register
 */
public record Pkru(int value) {
    /** How many keys PKRU holds on x86_64. */
    public static final int KEYS = 16;

    /**
     * The kernel's default for new processes: every key from 1 to 15 access-disabled, key 0 open. The
     * {@code init_pkru=} boot parameter and debugfs can change it.
     */
    public static final Pkru INITIAL = new Pkru(0x55555554);

    /**
     * Reads the calling thread's PKRU.
     *
     * @return the value
     * @throws PkeysUnavailableException where the kernel did not enable protection keys (RDPKRU would raise
     *     SIGILL)
     * @throws VirtualThreadException on a virtual thread, whose PKRU is its carrier's
     */
    public static Pkru current() {
        VirtualThreadException.check("read PKRU");
        Pkeys.requirePkru();
        int v = 0;
        for (int k = 0; k < KEYS; k++) {
            v |= Sys.pkeyGet(k) << (2 * k);
        }
        return new Pkru(v);
    }

    /**
     * The two bits of one key.
     *
     * @param key 0 to 15
     * @return 0 to 3: bit 0 access-disable, bit 1 write-disable
     * @throws InvalidKeyException for a key outside 0 to 15
     */
    public int bits(int key) {
        InvalidKeyException.check(key);
        return (value >>> (2 * key)) & 3;
    }

    /**
     * The rights of one key.
     *
     * @param key 0 to 15
     * @return the rights; both bits set counts as {@link Rights#NO_ACCESS}
     * @throws InvalidKeyException for a key outside 0 to 15
     */
    public Rights rights(int key) {
        return Rights.ofBits(bits(key));
    }

    /**
     * This value with one key's rights replaced.
     *
     * @param key 0 to 15
     * @param rights the new rights
     * @return the new value
     * @throws InvalidKeyException for a key outside 0 to 15
     */
    public Pkru with(int key, Rights rights) {
        InvalidKeyException.check(key);
        int shift = 2 * key;
        return new Pkru((value & ~(3 << shift)) | (rights.bits() << shift));
    }

    /**
     * Every key decoded, 0 to 15.
     *
     * @return one entry per key
     */
    public List<KeyRights> decode() {
        List<KeyRights> out = new ArrayList<>(KEYS);
        for (int k = 0; k < KEYS; k++) {
            int b = bits(k);
            out.add(new KeyRights(k, Rights.ofBits(b), (b & Sys.PKEY_DISABLE_ACCESS) != 0,
                    (b & Sys.PKEY_DISABLE_WRITE) != 0));
        }
        return out;
    }

    /**
     * Makes the calling thread's PKRU equal to this value, with one pkey_set per key that differs. This is
     * how code puts back a PKRU it saved with {@link #current()}. It passes the same guard as every rights
     * change, for every key at once and before it writes any: a value saved earlier, or a constant such as
     * {@link #INITIAL}, may deny a key that tags this thread's stack or TLS by now.
     *
     * @throws KeyZeroException when this value denies key 0
     * @throws VirtualThreadException on a virtual thread
     * @throws ThreadMemoryTaggedException when this value denies a key that tags this thread's stack, TCB and
     *     static TLS, or DTV; nothing was written
     * @throws PkeysUnavailableException where protection keys are unavailable
     */
    public void restore() {
        PkruGate.writeAll(this);
    }

    /**
     * The value as C programmers print it.
     *
     * @return for example {@code 0x55555554}
     */
    @Override
    public String toString() {
        return String.format("0x%08x", value);
    }

    /**
     * One key's entry in a decoded PKRU.
     *
     * @param key 0 to 15
     * @param rights what the bits grant
     * @param accessDisabled bit 2k
     * @param writeDisabled bit 2k+1
     */
    public record KeyRights(int key, Rights rights, boolean accessDisabled, boolean writeDisabled) {
    }
}
