package dev.pkrseq.lab;

/**
 * An experiment whose id, title and expectation are fixed when it is made; subclasses supply only
 * {@link #run()}. The pkey, TLS and rseq experiment families build on it.
 */
public abstract class DescribedExperiment implements Experiment {
    private final String id;
    private final String title;
    private final String expected;

    /**
     * Fixes the experiment's description.
     *
     * @param id a short stable name, for example {@code pkey.alloc-range}
     * @param title one line on what it does
     * @param expected what the kernel should do, in words
     */
    protected DescribedExperiment(String id, String title, String expected) {
        this.id = id;
        this.title = title;
        this.expected = expected;
    }

    @Override
    public final String id() {
        return id;
    }

    @Override
    public final String title() {
        return title;
    }

    @Override
    public final String expected() {
        return expected;
    }
}
