package dev.pkrseq.tls;

/**
 * Refused: a TLS retag that would tag the thread's DTV page where that page is not the thread's alone. For
 * a thread glibc created the DTV is a malloc chunk (on the C heap or in a malloc arena), and its page holds
 * other threads' chunks: a thread whose rights deny the key and touches one of them dies, and with it the
 * JVM (issue 12: a JMH fork died so, in its main thread's {@code CountDownLatch.await()}). Nothing was
 * tagged when this is thrown. Pass {@link TlsRetag.Option#WITHOUT_DTV_PAGE} to leave the page out, or
 * {@link TlsRetag.Option#WITH_SHARED_DTV_PAGE} to tag it anyway.
 */
public final class SharedDtvPageException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    private final long page;

    SharedDtvPageException(String message, long page) {
        super(message);
        this.page = page;
    }

    /**
     * The DTV page that was not tagged.
     *
     * @return its address
     */
    public long page() {
        return page;
    }
}
