package dev.pkrseq.rseq;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.util.OptionalLong;

import dev.pkrseq.testing.Checkout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The listings in the docs are the generator's output, line for line: docs/rseq-toolkit.md shows every
 * primitive and the variants, README.md and docs/percpu.md the counter's add. (RseqCodeTest assembles
 * the same pages with GNU as and compares every byte.)
 */
class RseqToolkitDocTest {
    private static String doc(String path) throws IOException {
        return Files.readString(Checkout.root().resolve(path));
    }

    @ParameterizedTest
    @EnumSource(RseqCode.Primitive.class)
    void toolkitPageShowsEveryPrimitivesListingAsTheGeneratorEmitsIt(RseqCode.Primitive p) throws IOException {
        String listing = RseqCodeTest.documented().listing(p, RseqCode.Where.TP, PerCpuOps.Index.CPU_ID);
        assertTrue(doc("docs/rseq-toolkit.md").contains("```text\n" + listing + "```"), "docs/rseq-toolkit.md's listing of "
                + p + " differs from the generator:\n" + listing);
    }

    @Test
    void toolkitPageShowsTheVariantsAsTheGeneratorEmitsThem() throws IOException {
        String d = doc("docs/rseq-toolkit.md");
        RseqCode c = RseqCodeTest.documented();
        for (String listing : new String[] {c.listing(RseqCode.Primitive.ADD, RseqCode.Where.AREA, PerCpuOps.Index.MM_CID),
                c.listing(RseqCode.Primitive.COMPARE_COPY_IN_AND_STORE, RseqCode.Where.AREA, PerCpuOps.Index.MM_CID),
                RseqCode.generate(0, new RseqCode.Config(RseqCode.DEFAULT_STRIDE, 2, OptionalLong.of(2336),
                        new DelayInjection(new int[] {0, 0, 1000, 1000, 0, 0}), true)).listing(
                        RseqCode.Primitive.COMPARE_AND_STORE, RseqCode.Where.TP, PerCpuOps.Index.CPU_ID)}) {
            assertTrue(d.contains("```text\n" + listing + "```"), "docs/rseq-toolkit.md differs from the generator:\n"
                    + listing);
        }
    }

    @Test
    void readmeShowsTheCountersAddAsTheGeneratorEmitsIt() throws IOException {
        RseqCode c = RseqCodeTest.documented();
        String listing = c.listing(RseqCode.Primitive.ADD, RseqCode.Where.TP, PerCpuOps.Index.CPU_ID)
                + c.listing(RseqCode.Primitive.ADD, RseqCode.Where.AREA, PerCpuOps.Index.CPU_ID);
        assertTrue(doc("README.md").contains("```text\n" + listing + "```"), "README.md's listing differs from the generator:\n"
                + listing);
    }
}
