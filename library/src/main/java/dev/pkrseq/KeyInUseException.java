package dev.pkrseq;

import java.util.List;


/**
 * Refused: freeing a protection key that pages still carry. The kernel would free it, smaps would keep
 * showing the number on those pages, and the next pkey_alloc would return the same number: its new
 * owner would silently control the old pages. Unmap the pages (close their arena) or retag them with
 * {@link dev.pkrseq.pkey.ProtectionKey#DEFAULT} first; the key stays allocated until then.
 */
public final class KeyInUseException extends MisuseException {
    private static final long serialVersionUID = 1L;

    /** The key that pages still carry. */
    private final int key;
    private final transient List<Mapping> mappings;

    /**
     * Creates the exception.
     *
     * @param key the key refused
     * @param mappings the mappings that still carry it
     * @param message what was refused, the pages listed, and what to do instead
     */
    public KeyInUseException(int key, List<Mapping> mappings, String message) {
        super(message);
        this.key = key;
        this.mappings = List.copyOf(mappings);
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
    public List<Mapping> mappings() {
        return mappings;
    }
}
