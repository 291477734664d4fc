package dev.pkrseq.pkey;

import dev.pkrseq.sys.Sys;

/**
 * The one way pkrseq's typed API writes PKRU: every rights change ({@link ProtectionKey#setRights},
 * {@link ProtectionKey#withRights}, {@link RightsScope#close()}, {@link ProtectionKey#close()}'s
 * no-access, {@link Pkru#restore()}, including a library constant such as {@link Pkru#INITIAL}, and
 * {@link Pkeys}' put-back after counting keys) passes the same checks here, in the order the misuse table
 * gives: key 0 may not be denied, a virtual thread may not touch PKRU, a key that tags this thread's stack,
 * TCB and static TLS or DTV may not be denied on this thread, and PKRU must exist at all.
 *
 * <p>The one write that does not come here is the kernel's own: {@code pkey_alloc} sets the allocating
 * thread's bits for the number it hands out, which was free, so no page pkrseq knows of carries it
 * ({@link ProtectionKey#close()} refuses to free a key that pages carry).
 *
 * <p>Cost on the hot path (a key that tags no memory pkrseq does not own): two compares, the virtual
 * thread check, one volatile read, the support check; no allocation, no lock, no smaps.
 */
final class PkruGate {
    private PkruGate() {
    }

    /**
     * Throws when writing {@code bits} for {@code key} on the calling thread would kill the JVM or cannot
     * be done; changes nothing.
     */
    static void check(int key, int bits, String action) {
        if (key == 0 && bits != 0) {
            throw KeyZeroException.deny(Rights.ofBits(bits));
        }
        VirtualThreadException.check(action);
        if (bits != 0 && TagRegistry.carries(key)) {
            threadMemory(key, bits);
        }
        Pkeys.requirePkru();
    }

    /** {@link #check}, then {@code pkey_set}. */
    static void write(int key, int bits, String action) {
        check(key, bits, action);
        Sys.pkeySet(key, bits);
    }

    /** {@link #check}, then {@code pkey_get} and {@code pkey_set}: the bits the thread had before. */
    static int exchange(int key, int bits, String action) {
        check(key, bits, action);
        int previous = Sys.pkeyGet(key);
        Sys.pkeySet(key, bits);
        return previous;
    }

    /**
     * Takes the calling thread's rights for a number away (no-access), where the guard allows it: after a
     * rights write that may have landed on a number {@link ProtectionKey#close()} freed meanwhile.
     */
    static void revoke(int key) {
        try {
            check(key, Sys.PKEY_DISABLE_ACCESS, "change PKRU");
        } catch (PkeyMisuseException | PkeysUnavailableException e) {
            return; // a number whose pages are this thread's stack or TLS: denying it would kill the thread
        }
        Sys.pkeySet(key, Sys.PKEY_DISABLE_ACCESS);
    }

    /**
     * Makes the calling thread's PKRU equal to {@code value}, after checking every key first: nothing is
     * written unless every key may take its new bits.
     */
    static void writeAll(Pkru value) {
        if (value.bits(0) != 0) {
            throw KeyZeroException.deny(value.rights(0));
        }
        VirtualThreadException.check("change PKRU");
        for (int k = 1; k < Pkru.KEYS; k++) {
            int bits = value.bits(k);
            if (bits != 0 && TagRegistry.carries(k)) {
                threadMemory(k, bits);
            }
        }
        Pkeys.requirePkru();
        for (int k = 0; k < Pkru.KEYS; k++) {
            int want = value.bits(k);
            if (Sys.pkeyGet(k) != want) {
                Sys.pkeySet(k, want);
            }
        }
    }

    /**
     * Puts one key's bits back as they were, unchecked: only for {@link Pkeys}' support probe, which runs
     * before PKRU is known to work and restores a number that pkey_alloc just gave and pkey_free took back.
     */
    static void restoreProbed(int key, int bits) {
        if (Sys.pkeyGet(key) != bits) {
            Sys.pkeySet(key, bits);
        }
    }

    private static void threadMemory(int key, int bits) {
        for (ThreadMemory.Area a : ThreadMemory.current()) {
            long[] hit = TagRegistry.overlap(key, a.low(), a.high());
            if (hit != null) {
                throw new ThreadMemoryTaggedException(key, Rights.ofBits(bits), Math.max(hit[0], a.low()),
                        Math.min(hit[1], a.high()), a.what(), a.low(), a.high(), a.consequence());
            }
        }
    }
}
