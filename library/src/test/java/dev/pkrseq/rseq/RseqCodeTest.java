package dev.pkrseq.rseq;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import dev.pkrseq.proc.Smaps;
import dev.pkrseq.Mapping;
import dev.pkrseq.testing.CValues;
import dev.pkrseq.testing.Checkout;
import dev.pkrseq.testing.Features;
import dev.pkrseq.testing.GnuAs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

/** The generated code, checked byte by byte: against GNU as, against the ABI, against what it may write. */
class RseqCodeTest {
    private static final long BASE = 0x7f0000001000L;
    private static final DelayInjection ALL_DELAYS = new DelayInjection(new int[] {11, 22, 33, 44, 55, 66});

    static RseqCode documented() {
        return RseqCode.generate(0, RseqCode.Config.listing());
    }

    private static RseqCode.Config config(long offset, int slots, long stride, DelayInjection delays, boolean clear) {
        return new RseqCode.Config(stride, slots, offset == Long.MIN_VALUE ? OptionalLong.empty() : OptionalLong.of(offset),
                delays, clear);
    }

    static Stream<Arguments> configs() {
        return Stream.of(
                Arguments.of("documented", RseqCode.Config.listing()),
                Arguments.of("cleared, delays at every point", config(2336, 2, 1 << 16, ALL_DELAYS, true)),
                Arguments.of("negative offset, 200 slots, stride 8", config(-64, 200, 8, DelayInjection.NONE, false)),
                Arguments.of("large offset, 4096 slots, stride 2^30, cleared", config(1048576, 4096, 1L << 30,
                        DelayInjection.at(3, 1000), true)),
                Arguments.of("no tp functions, stride 128", config(Long.MIN_VALUE, 2, 128, DelayInjection.NONE, true)),
                Arguments.of("delays long enough to need rel32 jumps", config(2336, 2, 1 << 16,
                        new DelayInjection(new int[] {1, 2, 3, 4, 5, 6}), true)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void assemblerTextAssemblesToTheGeneratedBytes(String name, RseqCode.Config c) throws Exception {
        RseqCode code = RseqCode.generate(0, c);
        assertArrayEquals(code.bytes(), GnuAs.assemble(code.assemblerSource()), code.listing());
    }

    @Test
    void everyPrimitiveHasFourFunctionsEachWithItsOwnDescriptor() {
        RseqCode code = documented();
        assertEquals(RseqCode.Primitive.values().length * 2 * 2, code.functions().size());
        for (String f : code.functions()) {
            assertTrue(code.offset(f + "_cs") < code.offset(f), f);
        }
        assertEquals(code.functions().size(), code.functions().stream().map(f -> code.offset(f + "_cs")).distinct().count());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void descriptorsAreVersionZeroFlagsZeroAlignedAndFrameTheirSection(String name, RseqCode.Config c) {
        RseqCode code = RseqCode.generate(BASE, c);
        ByteBuffer b = ByteBuffer.wrap(code.bytes()).order(ByteOrder.LITTLE_ENDIAN);
        for (String f : code.functions()) {
            int cs = code.offset(f + "_cs");
            assertEquals(0, (BASE + cs) % 32, "descriptor alignment");
            assertEquals(0, b.getInt(cs + RseqAbi.CS_VERSION), "version");
            assertEquals(0, b.getInt(cs + RseqAbi.CS_FLAGS), "flags");
            long start = BASE + code.offset(f + "_start");
            assertEquals(start, b.getLong(cs + RseqAbi.CS_START_IP), f + " start_ip");
            assertEquals(code.offset(f + "_commit") - code.offset(f + "_start"), b.getLong(cs + RseqAbi.CS_POST_COMMIT_OFFSET),
                    f + " post_commit_offset");
            long abort = b.getLong(cs + RseqAbi.CS_ABORT_IP);
            assertEquals(BASE + code.offset(f + "_abort"), abort, f + " abort_ip");
            assertTrue(abort - start >= b.getLong(cs + RseqAbi.CS_POST_COMMIT_OFFSET), f + ": abort_ip inside the section");
            assertTrue(code.offset(f) < code.offset(f + "_start"), f + ": armed before start_ip");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void signatureSitsImmediatelyBeforeEveryAbortHandlerAsAUd1(String name, RseqCode.Config c) {
        RseqCode code = RseqCode.generate(BASE, c);
        byte[] b = code.bytes();
        for (String f : code.functions()) {
            int abort = code.offset(f + "_abort");
            assertArrayEquals(new byte[] {0x0f, (byte) 0xb9, 0x3d, 0x53, 0x30, 0x05, 0x53},
                    Arrays.copyOfRange(b, abort - 7, abort), f);
        }
    }

    @Test
    void sectionEndsRightAfterTheCommitStore() {
        RseqCode code = documented();
        for (String f : code.functions()) {
            X86Asm.Line last = instructionBefore(code, code.offset(f + "_commit"));
            String expected = switch (f.substring(0, f.indexOf('_'))) {
                case "cas" -> "mov %rdx,(%rdi)";
                case "add" -> "add %rsi,(%rdi)";
                case "take" -> "mov %rax,(%rdi)";
                case "addind" -> "add %rdx,(%r10)";
                case "addall" -> "add %r8,(%r10)";
                case "popall" -> "mov %r11,(%r10)";
                case "push" -> "mov %rsi,(%rdi)";
                case "pushall" -> "mov %r11,(%r10)";
                case "cas2", "casst" -> "mov %r8,(%rdi)";
                case "cpin", "cpout" -> "mov %r9,(%rdi)";
                default -> throw new AssertionError(f);
            };
            assertEquals(expected, last.asm(), f);
            assertTrue(last.comment().contains("the commit"), f);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void codeWritesStructRseqOnlyAtRseqCsNeverAKernelOwnedField(String name, RseqCode.Config c) {
        RseqCode code = RseqCode.generate(BASE, c);
        List<String> structStores = new ArrayList<>();
        for (X86Asm.Line l : code.lines()) {
            String dest = storeDestination(l);
            if (dest == null) {
                continue;
            }
            if (dest.startsWith("%fs:")) {
                assertEquals(X86.hex(c.rseqOffset().getAsLong() + RseqAbi.RSEQ_CS), dest.substring(4), l.asm());
                structStores.add(l.asm());
            } else if (l.comment().startsWith("rseq_cs = ")) {
                assertTrue(dest.startsWith(RseqAbi.RSEQ_CS + "("), l.asm());
                structStores.add(l.asm());
            }
        }
        int ways = c.clearRseqCs() ? 1 + 1 + 2 : 1;
        assertTrue(structStores.size() >= code.functions().size() * ways, structStores.toString());
    }

    @Test
    void storesInsideEverySectionAreToItsOperandsOnly() {
        RseqCode code = documented();
        for (String f : code.functions()) {
            int start = code.offset(f + "_start");
            int commit = code.offset(f + "_commit");
            List<String> stores = code.lines().stream().filter(l -> !l.label() && l.offset() >= start && l.offset() < commit)
                    .map(RseqCodeTest::storeDestination).filter(d -> d != null).toList();
            List<String> allowed = switch (f.substring(0, f.indexOf('_'))) {
                case "cas", "add", "take", "cas2" -> List.of("(%rdi)");
                case "addind", "addall" -> List.of("(%r10)");
                case "popall" -> List.of("(%r8)", "(%r10)");
                case "push" -> List.of("(%rsi,%rdx,1)", "(%rdi)");
                case "pushall" -> List.of("(%r11,%rdx,1)", "(%r10)");
                case "casst", "cpin", "cpout" -> List.of("(%rdx)", "(%rdi)");
                default -> throw new AssertionError(f);
            };
            assertTrue(allowed.containsAll(stores), f + " stores to " + stores);
        }
    }

    @Test
    void noInjectionEmitsNoByteAndInjectionOnlyInsertsLoops() {
        RseqCode plain = documented();
        RseqCode delayed = RseqCode.generate(0, config(2336, 2, 1 << 16, ALL_DELAYS, false));
        assertFalse(plain.listing().contains("injected delay"));
        for (int point = 1; point <= DelayInjection.POINTS; point++) {
            assertTrue(delayed.listing().contains("injected delay " + point + ": "), "point " + point);
        }
        List<String> withoutLoops = new ArrayList<>();
        List<X86Asm.Line> lines = delayed.lines();
        for (int i = 0; i < lines.size(); i++) {
            X86Asm.Line l = lines.get(i);
            if (l.comment().startsWith("injected delay")) {
                i += 3; // the mov, the loop label, the dec, the jne
                continue;
            }
            if (l.comment().startsWith("keep the head in the red zone") || l.comment().equals("rax = the head again")) {
                continue; // a delay where the head is live keeps it below rsp for the loop's length
            }
            if (!l.asm().startsWith(".balign")) {
                withoutLoops.add(l.asm());
            }
        }
        // Padding differs with the functions' lengths; everything else is the same instruction for instruction.
        List<String> plainText = plain.lines().stream().map(X86Asm.Line::asm).filter(a -> !a.startsWith(".balign")).toList();
        assertEquals(plainText, withoutLoops);
    }

    @Test
    void jumpsOutOfShortReachBecomeRel32AndOnlyThoseAsGnuAsRelaxesThem() {
        RseqCode code = RseqCode.generate(0, config(2336, 2, 1 << 16, new DelayInjection(new int[] {1, 2, 3, 4, 5, 6}),
                true));
        assertTrue(code.longJumps(), "six delay loops and a copy in one section should put a target out of rel8 reach");
        assertTrue(Pattern.compile("\\n[0-9a-f]{4}  0f 8[0-9a-f] ").matcher(code.listing()).find(), "a jcc with a rel32");
        assertTrue(code.listing().matches("(?s).*\\n[0-9a-f]{4}  75 .*"), "and short ones where they reach");
        assertFalse(documented().longJumps());
    }

    @Test
    void injectionPointsFollowLibrseq() {
        RseqCode code = RseqCode.generate(0, config(2336, 2, 1 << 16, ALL_DELAYS, false));
        // Point 1 before arming, point 2 inside the section before the index load.
        for (String f : code.functions()) {
            assertTrue(code.offset(f + "_delay1") < code.offset(f + "_start"), f);
            assertTrue(code.offset(f + "_delay2") > code.offset(f + "_start"), f);
            assertTrue(code.offset(f + "_delay3") < code.offset(f + "_commit"), f);
        }
        assertTrue(code.offset("add_tp_cpu_delay4") > code.offset("add_tp_cpu_commit"));
        assertTrue(code.offset("cas_tp_cpu_delay4") < code.offset("cas_tp_cpu_commit"));
        assertTrue(code.offset("cas_tp_cpu_delay5") > code.offset("cas_tp_cpu_commit"));
        assertTrue(code.offset("cas2_tp_cpu_delay5") < code.offset("cas2_tp_cpu_commit"));
        assertTrue(code.offset("cas2_tp_cpu_delay6") > code.offset("cas2_tp_cpu_commit"));
        assertTrue(code.offset("cpin_tp_cpu_delay5") > code.offset("cpin_tp_cpu_copied"));
        // pkrseq's own point: inside addIndirect's window, after the shared pointer was followed.
        assertTrue(code.offset("addind_tp_cpu_delay5") > code.offset("addind_tp_cpu_delay3"));
        assertTrue(code.offset("addind_tp_cpu_delay5") < code.offset("addind_tp_cpu_commit"));
    }

    @Test
    void descriptorFieldsFollowTheRseqCsLayout() {
        CValues.assertNumbers("struct rseq_cs: version, flags, start_ip, post_commit_offset, abort_ip, sizeof",
                new long[] {0, 4, 8, 16, 24, 32}, RseqAbi.CS_VERSION, RseqAbi.CS_FLAGS, RseqAbi.CS_START_IP,
                RseqAbi.CS_POST_COMMIT_OFFSET, RseqAbi.CS_ABORT_IP, RseqAbi.CS_SIZE);
        CValues.assertNumbers("struct rseq: cpu_id, rseq_cs, mm_cid, the minimum length", new long[] {4, 8, 24, 32},
                RseqAbi.CPU_ID, RseqAbi.RSEQ_CS, RseqAbi.MM_CID, RseqAbi.MIN_LENGTH);
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

    private static X86Asm.Line instructionBefore(RseqCode code, int offset) {
        X86Asm.Line last = null;
        for (X86Asm.Line l : code.lines()) {
            if (!l.label() && l.offset() + l.length() == offset) {
                last = l;
            }
        }
        return last;
    }

    private static final Pattern STORE = Pattern.compile("^(mov|movq|add) [^,]+,(\\S*(\\(.*\\)|%fs:\\S+))$");

    /** The memory destination of an instruction that writes memory, or null. */
    static String storeDestination(X86Asm.Line l) {
        if (l.label()) {
            return null;
        }
        Matcher m = STORE.matcher(l.asm());
        if (!m.matches()) {
            return null;
        }
        return m.group(2);
    }
}
