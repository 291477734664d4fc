package dev.pkrseq.tls;

/** The two ways to choose which pages around a thread pointer to retag with a protection key. */
public enum PageRule {
    /**
     * The seed's rule (IA2's loader change): the pages from the static TLS block's lower bound,
     * {@code tp - (dl_tls_static_size - TLS_TCB_SIZE)} rounded down to a page, up to and including the
     * TCB page, the page that holds tp. The DTV page is retagged separately when it lies outside.
     */
    EXACT,
    /** The heuristic the seed replaced: the TCB page and the eight pages below it, nine pages. */
    FIXED_WINDOW;

    /** Pages below the TCB page that {@link #FIXED_WINDOW} covers. */
    public static final int FIXED_WINDOW_PAGES_BELOW = 8;

    @Override
    public String toString() {
        return this == EXACT ? "exact" : "fixed-window";
    }

    /**
     * The rule in words.
     *
     * @return a short description
     */
    public String description() {
        return this == EXACT
                ? "exact bounds: pages from page(tp - (dl_tls_static_size - TLS_TCB_SIZE)) to the TCB page, plus the DTV page when apart"
                : "fixed window: the TCB page and the 8 pages below";
    }
}
