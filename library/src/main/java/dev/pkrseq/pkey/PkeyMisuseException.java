package dev.pkrseq.pkey;

/**
 * A use of protection keys that pkrseq refuses because it would kill the JVM, corrupt ownership of
 * pages, or make no sense. Each refusal has its own subclass with a message that says what was refused
 * and why; nothing has been changed when one is thrown.
 *
 * <p>The subclasses: {@link KeyZeroException}, {@link KeyClosedException}, {@link KeyInUseException},
 * {@link UntaggableSegmentException}, {@link VirtualThreadException}, {@link ThreadMemoryTaggedException},
 * {@link InvalidKeyException}, {@link InvalidRightsException}.
 */
public abstract sealed class PkeyMisuseException extends RuntimeException
        permits KeyZeroException, KeyClosedException, KeyInUseException, UntaggableSegmentException,
        VirtualThreadException, ThreadMemoryTaggedException, InvalidKeyException, InvalidRightsException {
    private static final long serialVersionUID = 1L;

    PkeyMisuseException(String message) {
        super(message);
    }
}
