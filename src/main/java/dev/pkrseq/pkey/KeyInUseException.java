package dev.pkrseq.pkey;

import java.util.List;
import java.util.stream.Collectors;

import dev.pkrseq.proc.Vma;

/**
 * Refused: freeing a protection key that pages still carry. The kernel would free it, smaps would keep
 * showing the number on those pages, and the next pkey_alloc would return the same number: its new
 * owner would silently control the old pages. Unmap the pages (close their arena) or retag them with
 * {@link ProtectionKey#DEFAULT} first; the key stays allocated until then.
 */
public final class KeyInUseException extends PkeyMisuseException {
    private static final long serialVersionUID = 1L;
    private static final int LISTED = 8;

    private final int key;
    private final transient List<Vma> mappings;

    KeyInUseException(int key, List<Vma> mappings) {
        super(message(key, mappings));
        this.key = key;
        this.mappings = List.copyOf(mappings);
    }

    private static String message(int key, List<Vma> mappings) {
        long pages = mappings.stream().mapToLong(v -> v.size() / Pages.size()).sum();
        String listed = mappings.stream().limit(LISTED)
                .map(v -> String.format("0x%x-0x%x %s (%d page%s)", v.start(), v.end(), v.perms(), v.size() / Pages.size(),
                        v.size() == Pages.size() ? "" : "s"))
                .collect(Collectors.joining(", "));
        if (mappings.size() > LISTED) {
            listed += " and " + (mappings.size() - LISTED) + " more mappings";
        }
        return "refusing to free protection key " + key + ": " + pages + " page" + (pages == 1 ? "" : "s")
                + " still carry it, and the next pkey_alloc would hand them to a new owner: " + listed
                + ". Close the arena that maps them first (declare the key before the arena in try-with-resources),"
                + " or retag them with ProtectionKey.DEFAULT.protect(segment, prot)"
                + (mappings.stream().allMatch(v -> OwnedPages.owns(v.start())) ? ""
                        : "; memory pkrseq did not map (tagged with Hazard.MAY_KILL_THIS_JVM) is handed back the same way:"
                                + " ProtectionKey.DEFAULT.protect(segment, prot, Hazard.MAY_KILL_THIS_JVM), with a segment"
                                + " over its pages, also after its arena closed");
    }

    /**
     * The key that was not freed; it is still allocated and open.
     *
     * @return 1 to 15
     */
    public int key() {
        return key;
    }

    /**
     * The mappings that carried the key, as smaps showed them when the free was refused.
     *
     * @return the mappings, in address order
     */
    public List<Vma> mappings() {
        return mappings;
    }
}
