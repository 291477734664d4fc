package dev.pkrseq.rseq;

import dev.pkrseq.lab.ChildReport;

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
        ChildReport.put("registeredBefore", RseqFence.registered());
        try {
            RseqFence.fenceAll();
            ChildReport.put("unregistered", "fenced");
        } catch (RseqFenceException e) {
            ChildReport.put("unregistered", e.errno() + ": " + e.explanation());
        }
        RseqFence.register();
        ChildReport.put("registeredAfter", RseqFence.registered());
        RseqFence.fenceAll();
        RseqFence.fence(0);
        ChildReport.put("fenced", "true");
    }
}
