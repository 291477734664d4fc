package dev.pkrseq.rseq;

/**
 * Child JVM main for {@link RseqFenceTest}: a fresh process, not yet registered for the rseq fence, fences
 * (and is refused), registers, and fences again. Prints {@code key=value} lines.
 */
public final class RseqFenceChild {
    private RseqFenceChild() {
    }

    /**
     * Runs the sequence.
     *
     * @param args unused
     */
    public static void main(String[] args) {
        System.out.println("registeredBefore=" + RseqFence.registered());
        try {
            RseqFence.fenceAll();
            System.out.println("unregistered=fenced");
        } catch (RseqFenceException e) {
            System.out.println("unregistered=" + e.errno() + ": " + e.explanation());
        }
        RseqFence.register();
        System.out.println("registeredAfter=" + RseqFence.registered());
        RseqFence.fenceAll();
        RseqFence.fence(0);
        System.out.println("fenced=true");
        System.out.flush();
    }
}
