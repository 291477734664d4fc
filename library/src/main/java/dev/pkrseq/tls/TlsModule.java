package dev.pkrseq.tls;

import dev.pkrseq.Mapping;

/**
 * One loaded module's TLS, for one thread: where its block is, and whether the thread's static TLS
 * holds it.
 *
 * @param module the file name, for example {@code libc.so.6}; the main program's is its executable's name
 * @param path the path the loader opened (the executable's path for the main program)
 * @param moduleId {@code dlpi_tls_modid}: the module's index in every thread's DTV
 * @param size {@code p_memsz} of PT_TLS: the block's size
 * @param align {@code p_align} of PT_TLS
 * @param block this thread's block ({@code dlpi_tls_data}, or the DTV entry for a thread pkrseq cannot run
 *     on), 0 when it is not allocated for this thread yet (dynamic TLS is allocated on first use)
 * @param inStaticTls whether {@code [block, block + size)} lies inside the thread's static TLS bounds
 *     {@code [low, high)}
 * @param dtv what the thread's DTV entry says about the block
 * @param mapping the VMA that holds the block, or null when the block is not allocated
 * @param threadPointer the thread pointer the block belongs to
 * @param pageSize the page size
 */
public record TlsModule(String module, String path, long moduleId, long size, long align, long block,
        boolean inStaticTls, DtvState dtv, Mapping mapping, long threadPointer, long pageSize) {

    /**
     * What a DTV entry says (glibc 2.26+: {@code struct dtv_pointer {void *val; void *to_free;}}).
     * Independent of the bounds: the loader sets {@code to_free} only for blocks it allocated
     * separately, that is dynamic TLS.
     */
    public enum DtvState {
        /** {@code val} is the block and {@code to_free} is null: the block is in static TLS. */
        STATIC,
        /** {@code to_free} is set: the loader allocated the block on the heap (dynamic TLS). */
        DYNAMIC,
        /** {@code val} is {@code TLS_DTV_UNALLOCATED}: this thread has not used the module's TLS yet. */
        UNALLOCATED,
        /** The module's index is beyond this thread's DTV: it was loaded after the DTV was last resized. */
        NOT_IN_DTV,
        /** The DTV could not be read. */
        UNREADABLE;

        @Override
        public String toString() {
            return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        }
    }

    /**
     * Whether this thread has a block for the module.
     *
     * @return true when {@code block != 0}
     */
    public boolean allocated() {
        return block != 0;
    }

    /**
     * One past the block's last byte.
     *
     * @return {@code block + size}, or 0 when not allocated
     */
    public long end() {
        return allocated() ? block + size : 0;
    }

    /**
     * The block's offset from the thread pointer: negative for static TLS, which lies below tp on
     * x86_64. Static modules have the same offset in every thread.
     *
     * @return {@code block - tp}, or null when not allocated
     */
    public Long offsetFromTp() {
        return allocated() ? block - threadPointer : null;
    }

    /**
     * The seed's "five pages below" question for this module: on which page below the TCB page (the
     * page that holds tp) the block starts.
     *
     * @return 0 for the TCB page, 1 for the page below, and so on; negative above the TCB page; null
     *     when not allocated
     */
    public Long pageBelowTcb() {
        if (!allocated()) {
            return null;
        }
        long mask = ~(pageSize - 1);
        return ((threadPointer & mask) - (block & mask)) / pageSize;
    }

    /**
     * Whether the byte at an address belongs to the block.
     *
     * @param address an address
     * @return true when {@code block <= address < block + size}
     */
    public boolean holds(long address) {
        return allocated() && Long.compareUnsigned(address, block) >= 0 && Long.compareUnsigned(address, end()) < 0;
    }

    /**
     * Where the block is, in words.
     *
     * @return for example {@code static TLS, TCB page} or {@code dynamic TLS in [heap] 55..-55.. rw-p}
     *     or {@code not allocated for this thread}
     */
    public String where() {
        if (!allocated()) {
            return dtv == DtvState.NOT_IN_DTV ? "not allocated (index beyond this thread's DTV)"
                    : "not allocated for this thread (dynamic TLS is allocated on first use)";
        }
        String in = mapping == null ? "unmapped memory" : Placement.describe(mapping);
        return (inStaticTls ? "static TLS" : dtv == DtvState.DYNAMIC ? "dynamic TLS" : "outside static TLS")
                + " in " + in;
    }
}
