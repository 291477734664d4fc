package dev.pkrseq.pkey;

import dev.pkrseq.sys.Sys;

/**
 * Rights set by {@link ProtectionKey#withRights(Rights)} for the duration of a try-with-resources block.
 * Closing puts back the exact PKRU bits the thread had for the key before; closing twice does nothing.
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
     * Restores the thread's previous rights for the key (one pkey_set), even if the key has been closed
     * meanwhile: the bits are the thread's own.
     *
     * @throws IllegalStateException when called from another thread than the one that opened the scope;
     *     rights are per thread, so restoring them there would change the wrong thread
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
        closed = true;
        Sys.pkeySet(key.number(), previousBits);
    }
}
