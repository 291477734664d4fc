package dev.pkrseq;

/**
 * {@code pkey_alloc} failed with ENOSPC: every protection key the kernel hands out is taken (x86 has 15
 * besides key 0, and the kernel may keep one for execute-only memory). The caller can act on it: free a
 * key, share one, or use {@code ProtectionKey.tryAllocate}, which returns empty instead.
 */
public final class KeysExhaustedException extends NativeException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception for a failed call.
     *
     * @param call the C function, {@code "pkey_alloc"}
     * @param arguments the rendered arguments
     */
    public KeysExhaustedException(String call, String arguments) {
        super(call, arguments, Errno.ENOSPC.number());
    }
}
