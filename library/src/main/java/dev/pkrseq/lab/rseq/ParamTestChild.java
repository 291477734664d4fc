package dev.pkrseq.lab.rseq;

import java.util.List;

import dev.pkrseq.rseq.Owner;
import dev.pkrseq.rseq.Rseq;

/**
 * The main class of the child JVM {@link ParamTest#run} starts for mm_cid where this JVM's registration
 * does not cover it: the parent passes {@code GLIBC_TUNABLES=glibc.pthread.rseq=0}, so the workers run
 * under pkrseq's own registration. Takes the options as {@code pkrseq paramtest} does and prints the result
 * as {@code paramtest.key=value} lines.
 */
public final class ParamTestChild {
    private ParamTestChild() {
    }

    /**
     * Runs one param test.
     *
     * @param args the options, as {@link ParamTest.Options#toArgs()} writes them
     * @throws InterruptedException when interrupted while waiting for the workers
     */
    public static void main(String[] args) throws InterruptedException {
        if (Rseq.owner() == Owner.GLIBC) {
            System.err.println("glibc registered this child's threads although GLIBC_TUNABLES=" + System.getenv(
                    "GLIBC_TUNABLES") + " asks it not to");
            System.exit(2);
        }
        ParamTest.Options o = ParamTest.Options.parse(List.of(args));
        ParamTest.report(ParamTest.run(o), "");
    }
}
