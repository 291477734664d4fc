package dev.pkrseq.pkey;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import dev.pkrseq.proc.Smaps;
import dev.pkrseq.proc.Vma;
import dev.pkrseq.sys.Errno;
import dev.pkrseq.sys.NativeException;
import dev.pkrseq.sys.Sys;

/**
 * Whether protection keys work here, how many are free, and which memory carries a key: the questions a
 * report or a leak check asks.
 */
public final class Pkeys {
    private Pkeys() {
    }

    /** Decided once: the CPU flags, then one pkey_alloc and pkey_free with the thread's PKRU put back. */
    private static final class Support {
        static final String REASON = detect();
    }

    /**
     * Whether protection keys work: the CPU has PKU, the kernel enabled it, and pkey_alloc hands out keys
     * (or has handed them all out already).
     *
     * @return true when keys can be used
     */
    public static boolean supported() {
        return Support.REASON == null;
    }

    /**
     * Why protection keys do not work here, in words.
     *
     * @return the reason, or empty when they work
     */
    public static Optional<String> unavailableReason() {
        return Optional.ofNullable(Support.REASON);
    }

    /**
     * How many keys pkey_alloc hands out right now: it allocates until ENOSPC, frees them all, and puts
     * the calling thread's PKRU back. Meanwhile other threads of the JVM find no free key. Costs two
     * system calls per free key.
     *
     * @return 0 to 15; 0 where protection keys do not work
     * @throws VirtualThreadException on a virtual thread (pkey_alloc writes the carrier's PKRU)
     */
    public static int allocatableNow() {
        if (!supported()) {
            return 0;
        }
        VirtualThreadException.check("count allocatable keys");
        return freeNow().size();
    }

    /**
     * The keys allocated in this process now, by anyone: key 0 (always), the keys pkey_alloc handed out to
     * this library or to other code of the process, and the kernel's hidden execute-only key while a
     * PROT_EXEC-only mapping stands. Found as {@link #allocatableNow()} finds the free ones: it allocates
     * until ENOSPC, frees them all and puts the calling thread's PKRU back; what pkey_alloc never handed
     * out is allocated. Meanwhile other threads of the JVM find no free key. Costs two system calls per
     * free key.
     *
     * @return key numbers in ascending order; just 0 where protection keys do not work
     * @throws VirtualThreadException on a virtual thread (pkey_alloc writes the carrier's PKRU)
     */
    public static List<Integer> allocatedNow() {
        if (!supported()) {
            return List.of(0);
        }
        VirtualThreadException.check("list allocated keys");
        List<Integer> free = freeNow();
        List<Integer> out = new ArrayList<>();
        for (int k = 0; k < Pkru.KEYS; k++) {
            if (!free.contains(k)) {
                out.add(k);
            }
        }
        return List.copyOf(out);
    }

    /** Every key pkey_alloc hands out now; the calling thread's PKRU is put back. */
    private static List<Integer> freeNow() {
        Pkru saved = Pkru.current();
        List<Integer> keys = new ArrayList<>();
        try {
            while (keys.size() < 64) {
                keys.add(Sys.pkeyAlloc(0, Sys.PKEY_DISABLE_ACCESS));
            }
        } catch (NativeException e) {
            if (e.errno() != Errno.ENOSPC) {
                throw e;
            }
        } finally {
            for (int k : keys) {
                Sys.pkeyFree(k);
            }
            saved.restore();
        }
        return keys;
    }

    /**
     * Every mapping of this JVM that carries a non-zero key, from /proc/self/smaps. A leak check expects
     * none once all keys are closed; the kernel's hidden execute-only key shows here too.
     *
     * @return the mappings, in address order; empty where the kernel does not report keys
     */
    public static List<Vma> taggedMappings() {
        return Smaps.self().stream().filter(v -> v.key() != 0).toList();
    }

    /**
     * Every mapping of this JVM that carries one key, from /proc/self/smaps; pages tagged by raw system
     * calls included.
     *
     * @param key 0 to 15
     * @return the mappings, in address order
     * @throws InvalidKeyException for a key outside 0 to 15
     */
    public static List<Vma> mappingsCarrying(int key) {
        InvalidKeyException.check(key);
        return Smaps.self().stream().filter(v -> v.key() == key && v.protectionKey() != null).toList();
    }

    /** Throws, in words, where PKRU must not be touched (RDPKRU/WRPKRU would raise SIGILL). */
    static void requirePkru() {
        if (!supported()) {
            throw new PkeysUnavailableException("protection keys are not available on this machine: "
                    + unavailableReason().orElse("the kernel did not enable them"));
        }
    }

    private static String detect() {
        String flags = Sys.cpuFlags();
        boolean pku = flags.contains(" pku ");
        if (!pku) {
            return "the CPU has no protection keys (no 'pku' flag in /proc/cpuinfo)";
        }
        if (!Sys.pkruUsable()) {
            return "the CPU has protection keys but the kernel did not enable them (no 'ospke' flag in /proc/cpuinfo:"
                    + " booted with nopku, or built without CONFIG_X86_INTEL_MEMORY_PROTECTION_KEYS)";
        }
        int[] bits = new int[Pkru.KEYS];
        for (int k = 0; k < bits.length; k++) {
            bits[k] = Sys.pkeyGet(k);
        }
        try {
            int k = Sys.pkeyAlloc(0, Sys.PKEY_DISABLE_ACCESS);
            Sys.pkeyFree(k);
            PkruGate.restoreProbed(k, bits[k]);
            return null;
        } catch (NativeException e) {
            return e.errno() == Errno.ENOSPC ? null : "pkey_alloc fails: " + e.getMessage();
        }
    }
}
