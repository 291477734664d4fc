package dev.pkrseq.rseq;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalLong;
import java.util.stream.Collectors;

import dev.pkrseq.proc.Smaps;
import dev.pkrseq.Mapping;
import dev.pkrseq.testing.Checkout;
import dev.pkrseq.testing.Features;
import dev.pkrseq.testing.GnuAs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The generated code, checked byte by byte: against the published listing, against GNU as, against the ABI. */
class RseqCodeTest {
    private static final long BASE = 0x7f0000001000L;

    private static RseqCode documented() {
        return RseqCode.generate(0, OptionalLong.of(RseqCode.LISTING_RSEQ_OFFSET), RseqCode.LISTING_SLOTS, 0);
    }

    @Test
    void listingInTheSourceIsWhatTheGeneratorEmits() throws IOException {
        String source = Files.readString(Path.of("src/main/java/dev/pkrseq/rseq/RseqCode.java"));
        String javadoc = source.lines().map(l -> l.startsWith(" * ") ? l.substring(3) : l.equals(" *") ? "" : l)
                .collect(Collectors.joining("\n"));
        assertTrue(javadoc.contains(documented().listing()), "RseqCode's javadoc listing differs from the generator:\n"
                + documented().listing());
    }

    @Test
    void listingInTheReadmeIsWhatTheGeneratorEmits() throws IOException {
        String readme = Files.readString(Checkout.root().resolve("README.md"));
        assertTrue(readme.contains(documented().listing()), "README.md's listing differs from the generator:\n"
                + documented().listing());
    }

    @ParameterizedTest(name = "__rseq_offset {0}, {1} slots, delay {2}")
    @CsvSource({"2336, 2, 0", "2336, 2, 1000", "-64, 200, 0", "1048576, 4096, 7"})
    void assemblerTextAssemblesToTheGeneratedBytes(long offset, int slots, int delay) throws Exception {
        RseqCode code = RseqCode.generate(0, OptionalLong.of(offset), slots, delay);
        assertArrayEquals(code.bytes(), GnuAs.assemble(code.assemblerSource()), code.listing());
    }

    @Test
    void descriptorsAreVersionZeroFlagsZeroAlignedAndFrameTheSection() {
        RseqCode code = RseqCode.generate(BASE, OptionalLong.of(2336), 2, 0);
        ByteBuffer b = ByteBuffer.wrap(code.bytes()).order(ByteOrder.LITTLE_ENDIAN);
        for (String v : List.of("tp", "area")) {
            int cs = code.offset("cs_" + v);
            assertEquals(0, (BASE + cs) % 32, "descriptor alignment");
            assertEquals(0, b.getInt(cs), "version");
            assertEquals(0, b.getInt(cs + 4), "flags");
            assertEquals(BASE + code.offset(v + "_start"), b.getLong(cs + 8), "start_ip");
            assertEquals(code.offset(v + "_commit") - code.offset(v + "_start"), b.getLong(cs + 16), "post_commit_offset");
            long abort = b.getLong(cs + 24);
            assertEquals(BASE + code.offset(v + "_abort"), abort, "abort_ip");
            long start = BASE + code.offset(v + "_start");
            assertTrue(abort - start >= b.getLong(cs + 16), "abort_ip must lie outside the section");
        }
    }

    @Test
    void signatureSitsImmediatelyBeforeEachAbortHandlerAsAUd1() {
        RseqCode code = RseqCode.generate(BASE, OptionalLong.of(2336), 2, 0);
        byte[] b = code.bytes();
        for (String v : List.of("tp", "area")) {
            int abort = code.offset(v + "_abort");
            assertArrayEquals(new byte[] {0x0f, (byte) 0xb9, 0x3d, 0x53, 0x30, 0x05, 0x53},
                    java.util.Arrays.copyOfRange(b, abort - 7, abort));
        }
    }

    @Test
    void sectionEndsRightAfterTheCommitStore() {
        RseqCode code = RseqCode.generate(BASE, OptionalLong.of(2336), 2, 0);
        byte[] b = code.bytes();
        for (String v : List.of("tp", "area")) {
            int commit = code.offset(v + "_commit");
            // mov %r8,(%rdi,%rcx,1): the slot's only store, the last instruction before post_commit_ip.
            assertArrayEquals(new byte[] {0x4c, (byte) 0x89, 0x04, 0x0f}, java.util.Arrays.copyOfRange(b, commit - 4, commit));
        }
    }

    @Test
    void codeStoresOnlyToRseqCsAndTheSlot() {
        // Every instruction whose destination is memory: the rseq_cs arming and the commit, nothing else.
        List<String> stores = documented().lines().stream().filter(l -> !l.label()).map(X86Asm.Line::asm)
                .filter(a -> a.matches("mov %\\w+,[^%].*|mov %\\w+,%fs:.*")).toList();
        assertEquals(List.of("mov %rdx,%fs:0x928", "mov %r8,(%rdi,%rcx,1)", "mov %rcx,8(%rdx)", "mov %r8,(%rdi,%rcx,1)"),
                stores);
        assertEquals(2336 + RseqAbi.RSEQ_CS, 0x928);
    }

    @Test
    void codePageIsReadExecuteNeverWritable() {
        Features.assumeRseq();
        long page = RseqCode.Shared.CODE.base();
        Mapping vma = Smaps.containing(Smaps.self(), page).orElseThrow();
        assertEquals("r-xp", vma.perms(), vma.toString());
    }

    @ParameterizedTest
    @CsvSource(delimiter = ';', value = {"0-1;1", "0;0", "0-3,8-11;11", "0,2,4;4"})
    void highestPossibleCpuIsParsedFromTheKernelsList(String list, int highest) {
        assertEquals(highest, RseqCode.parseCpuList(list));
    }

    @Test
    void slotCountCoversEveryOnlineCpu() {
        assertTrue(RseqCode.possibleCpus() >= dev.pkrseq.sys.ThreadCalls.onlineCpus());
    }
}
