package dev.pkrseq;

/**
 * A use of pkrseq that it refuses because it would kill the JVM, corrupt ownership of pages or rseq
 * areas, or make no sense. Each refusal has its own subclass with a message that says what was refused,
 * why, and what to do instead; nothing has been changed when one is thrown. Protection keys and rseq share
 * this one family (one {@link VirtualThreadException} for both).
 *
 * <p>The family is sealed: {@link KeyZeroException}, {@link KeyClosedException}, {@link KeyInUseException},
 * {@link UntaggableSegmentException}, {@link VirtualThreadException}, {@link ThreadMemoryTaggedException},
 * {@link InvalidKeyException}, {@link InvalidRightsException}, {@link RseqAreaGoneException}.
 */
public abstract sealed class MisuseException extends RuntimeException
        permits KeyZeroException, KeyClosedException, KeyInUseException, UntaggableSegmentException,
        VirtualThreadException, ThreadMemoryTaggedException, InvalidKeyException, InvalidRightsException,
        RseqAreaGoneException {
    private static final long serialVersionUID = 1L;

    MisuseException(String message) {
        super(message);
    }
}
