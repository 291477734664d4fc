package dev.pkrseq.pkey;

/**
 * Rights set by {@link ProtectionKey#withRights(Rights)} for the duration of a try-with-resources block.
 * Closing puts back the exact PKRU bits the thread had for the key before; closing twice does nothing.
 * Once the key is closed, closing the scope writes nothing: the number is no longer the key's, and the bits
 * it held would be rights to whoever allocates it next.
 */
public final class RightsScope implements AutoCloseable {
    private final ProtectionKey key;
    private final Rights rights;
    private final int previousBits;
    private final Thread owner;
    private boolean closed;

    RightsScope(ProtectionKey key, Rights rights, int previousBits) {
        this.key = key;
        this.rights = rights;
        this.previousBits = previousBits;
        this.owner = Thread.currentThread();
    }

    /**
     * The key whose rights the scope changed.
     *
     * @return the key
     */
    public ProtectionKey key() {
        return key;
    }

    /**
     * The rights inside the scope.
     *
     * @return the rights set when the scope opened
     */
    public Rights rights() {
        return rights;
    }

    /**
     * The rights the thread had before, which closing restores.
     *
     * @return the rights
     */
    public Rights previous() {
        return Rights.ofBits(previousBits);
    }

    /**
     * Restores the thread's previous rights for the key (one pkey_set, through the same guard as every
     * rights change), or, when the key has been closed meanwhile, writes nothing.
     *
     * @throws IllegalStateException when called from another thread than the one that opened the scope;
     *     rights are per thread, so restoring them there would change the wrong thread
     * @throws ThreadMemoryTaggedException when the previous rights deny a key that now tags this thread's
     *     stack, TLS or DTV (for example a TLS retag made inside the scope): the scope stays open, so that it
     *     can be closed once the pages are handed back
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        if (Thread.currentThread() != owner) {
            throw new IllegalStateException("a rights scope for key " + key.number() + " must be closed on the thread that"
                    + " opened it ('" + owner.getName() + "'), not on '" + Thread.currentThread().getName()
                    + "': rights are per thread");
        }
        key.restoreRights(previousBits);
        closed = true;
    }
}
