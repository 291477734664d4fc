package dev.pkrseq.lab.pkey;

import dev.pkrseq.Mapping;
import java.util.List;

import dev.pkrseq.pkey.Pages;
import dev.pkrseq.pkey.Pkeys;
import dev.pkrseq.pkey.Pkru;
import dev.pkrseq.sys.ThreadCalls;

/**
 * What {@code pkrseq pkeys} shows: the calling thread's PKRU decoded, how many keys are free, and every
 * mapping of this JVM that carries a non-zero key.
 *
 * @param supported whether protection keys work here
 * @param reason why they do not, null when they do
 * @param thread the calling thread's name
 * @param tid its kernel task id
 * @param pkru its PKRU as hex, null where unavailable
 * @param keys PKRU decoded, keys 0 to 15; empty where unavailable
 * @param allocatable keys pkey_alloc hands out now; 0 where unavailable
 * @param mappings mappings carrying a non-zero key, in address order
 */
public record PkeysReport(boolean supported, String reason, String thread, int tid, String pkru,
        List<Pkru.KeyRights> keys, int allocatable, List<Mapping> mappings) {

    /**
     * One mapping that carries a key.
     *
     * @param start first address, hex
     * @param end one past the last address, hex
     * @param perms permission letters, for example {@code rw-p}
     * @param key the protection key
     * @param pages its size in pages
     * @param path the mapped file or pseudo-name, empty for anonymous memory
     */
    public record Mapping(String start, String end, String perms, int key, long pages, String path) {
        static Mapping of(dev.pkrseq.Mapping v) {
            return new Mapping("0x" + Long.toHexString(v.start()), "0x" + Long.toHexString(v.end()), v.perms(), v.key(),
                    v.size() / Pages.size(), v.path());
        }
    }

    /** Why a virtual thread gets no PKRU in a report. */
    static final String VIRTUAL_THREAD = "this is a virtual thread, whose PKRU is its carrier's; ask from a platform thread";

    /**
     * Builds the report for the calling thread. Counting the free keys allocates and frees each once and
     * puts the thread's PKRU back.
     *
     * @return the report
     */
    public static PkeysReport now() {
        Thread t = Thread.currentThread();
        List<Mapping> mappings = Pkeys.taggedMappings().stream().map(Mapping::of).toList();
        if (!Pkeys.supported()) {
            return new PkeysReport(false, Pkeys.unavailableReason().orElse(null), t.getName(), ThreadCalls.gettid(), null,
                    List.of(), 0, mappings);
        }
        if (t.isVirtual()) {
            return new PkeysReport(true, VIRTUAL_THREAD, t.getName(), ThreadCalls.gettid(), null, List.of(), 0, mappings);
        }
        Pkru pkru = Pkru.current();
        int allocatable = Pkeys.allocatableNow();
        return new PkeysReport(true, null, t.getName(), ThreadCalls.gettid(), pkru.toString(), pkru.decode(), allocatable, mappings);
    }
}
