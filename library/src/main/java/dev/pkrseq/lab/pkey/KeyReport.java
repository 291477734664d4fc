package dev.pkrseq.lab.pkey;

import java.util.List;

import dev.pkrseq.pkey.Pkeys;
import dev.pkrseq.pkey.Pkru;
import dev.pkrseq.pkey.Rights;
import dev.pkrseq.proc.Smaps;
import dev.pkrseq.Mapping;
import dev.pkrseq.sys.ThreadCalls;

/**
 * What {@code pkrseq pkeys --key N} shows: whether one key is allocated in this process, the calling
 * thread's rights for it, and the mappings that carry it.
 *
 * @param key the key, 0 to 15
 * @param supported whether protection keys work here
 * @param reason why they do not, null when they do
 * @param allocated whether the key is allocated in this process now (key 0 always is)
 * @param allocatedKeys every key allocated in this process now, ascending
 * @param thread the calling thread's name
 * @param tid its kernel task id
 * @param rights its rights for the key; null where protection keys do not work or on a virtual thread
 * @param accessDisabled its access-disable bit for the key; null with {@code rights}
 * @param writeDisabled its write-disable bit for the key; null with {@code rights}
 * @param smapsShowsKeys whether the kernel prints {@code ProtectionKey:} in smaps (it does only where
 *     protection keys are enabled), without which no mapping can be shown to carry a key
 * @param mappings the mappings that carry the key, in address order
 */
public record KeyReport(int key, boolean supported, String reason, boolean allocated, List<Integer> allocatedKeys,
        String thread, int tid, Rights rights, Boolean accessDisabled, Boolean writeDisabled, boolean smapsShowsKeys,
        List<PkeysReport.Mapping> mappings) {

    /**
     * Builds the report for the calling thread. Finding the allocated keys allocates each free key once,
     * frees it and puts the thread's PKRU back.
     *
     * @param key 0 to 15
     * @return the report
     * @throws dev.pkrseq.InvalidKeyException for a key outside 0 to 15
     */
    public static KeyReport of(int key) {
        Pkru.INITIAL.bits(key); // the range check, before any system call
        List<Mapping> vmas = Smaps.self();
        List<PkeysReport.Mapping> mappings = vmas.stream().filter(v -> v.protectionKey() != null && v.key() == key)
                .map(PkeysReport.Mapping::of).toList();
        boolean smapsKeys = vmas.stream().anyMatch(v -> v.protectionKey() != null);
        Thread t = Thread.currentThread();
        if (!Pkeys.supported()) {
            return new KeyReport(key, false, Pkeys.unavailableReason().orElse(null), key == 0, List.of(0), t.getName(),
                    ThreadCalls.gettid(), null, null, null, smapsKeys, mappings);
        }
        if (t.isVirtual()) {
            return new KeyReport(key, true, PkeysReport.VIRTUAL_THREAD, key == 0, List.of(0), t.getName(), ThreadCalls.gettid(),
                    null, null, null, smapsKeys, mappings);
        }
        List<Integer> allocated = Pkeys.allocatedNow();
        Pkru.KeyRights r = Pkru.current().decode().get(key);
        return new KeyReport(key, true, null, allocated.contains(key), allocated, t.getName(), ThreadCalls.gettid(),
                r.rights(), r.accessDisabled(), r.writeDisabled(), smapsKeys, mappings);
    }
}
