package dev.pkrseq.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.pkrseq.rseq.RseqAbi;
import dev.pkrseq.testing.CValues;

import java.io.IOException;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.PaddingLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every C struct pkrseq reads or writes is a layout whose offsets and size are the C headers' own: a
 * program compiled with gcc prints offsetof and sizeof from {@code <linux/rseq.h>}, {@code <link.h>},
 * {@code <elf.h>} and {@code <sys/utsname.h>}, and the layouts must say the same. glibc's tcbhead_t and
 * dtv_t have no public header: they are compared with the values sysdeps/x86_64/nptl/tls.h and
 * elf/dl-dtv.h give on x86_64 (tcb 0, dtv 8, self 16; a 16-byte entry of val and to_free). Headers of a
 * kernel before 6.3 (Debian 12's linux-libc-dev is 6.1) have no node_id and mm_cid: the program is then
 * built without them, and they are checked against the 6.3 uapi header's order (right after flags).
 */
class CStructsTest {
    private static final String PROGRAM = """
            #define _GNU_SOURCE
            #include <stddef.h>
            #include <stdio.h>
            #include <link.h>
            #include <elf.h>
            #include <sys/utsname.h>
            #include <linux/rseq.h>
            #define F(s, t, f) printf(s "." #f "=%zu\\n", offsetof(t, f))
            #define S(s, t) printf(s ".sizeof=%zu\\n", sizeof(t))
            #define A(s, t) printf(s ".alignof=%zu\\n", _Alignof(t))
            int main(void) {
                F("rseq", struct rseq, cpu_id_start); F("rseq", struct rseq, cpu_id);
                F("rseq", struct rseq, rseq_cs); F("rseq", struct rseq, flags);
            #ifdef RSEQ_NODE_ID
                F("rseq", struct rseq, node_id); F("rseq", struct rseq, mm_cid);
            #endif
                S("rseq", struct rseq); A("rseq", struct rseq);
                F("rseq_cs", struct rseq_cs, version); F("rseq_cs", struct rseq_cs, flags);
                F("rseq_cs", struct rseq_cs, start_ip); F("rseq_cs", struct rseq_cs, post_commit_offset);
                F("rseq_cs", struct rseq_cs, abort_ip);
                S("rseq_cs", struct rseq_cs); A("rseq_cs", struct rseq_cs);
                F("dl_phdr_info", struct dl_phdr_info, dlpi_addr); F("dl_phdr_info", struct dl_phdr_info, dlpi_name);
                F("dl_phdr_info", struct dl_phdr_info, dlpi_phdr); F("dl_phdr_info", struct dl_phdr_info, dlpi_phnum);
                F("dl_phdr_info", struct dl_phdr_info, dlpi_adds); F("dl_phdr_info", struct dl_phdr_info, dlpi_subs);
                F("dl_phdr_info", struct dl_phdr_info, dlpi_tls_modid);
                F("dl_phdr_info", struct dl_phdr_info, dlpi_tls_data);
                S("dl_phdr_info", struct dl_phdr_info);
                F("Elf64_Phdr", Elf64_Phdr, p_type); F("Elf64_Phdr", Elf64_Phdr, p_flags);
                F("Elf64_Phdr", Elf64_Phdr, p_offset); F("Elf64_Phdr", Elf64_Phdr, p_vaddr);
                F("Elf64_Phdr", Elf64_Phdr, p_paddr); F("Elf64_Phdr", Elf64_Phdr, p_filesz);
                F("Elf64_Phdr", Elf64_Phdr, p_memsz); F("Elf64_Phdr", Elf64_Phdr, p_align);
                S("Elf64_Phdr", Elf64_Phdr);
                F("utsname", struct utsname, sysname); F("utsname", struct utsname, nodename);
                F("utsname", struct utsname, release); F("utsname", struct utsname, version);
                F("utsname", struct utsname, machine); F("utsname", struct utsname, domainname);
                S("utsname", struct utsname);
                return 0;
            }
            """;

    @Test
    void layoutsMatchTheCHeadersOffsetsAndSizes(@TempDir Path dir) throws Exception {
        Map<String, Long> c = compileAndRun(dir);
        Map<String, Long> java = new TreeMap<>();
        if (!c.containsKey("rseq.node_id")) {
            // include/uapi/linux/rseq.h since 6.3: __u32 flags; __u32 node_id; __u32 mm_cid;
            assertEquals(RseqAbi.FLAGS + 4, RseqAbi.NODE_ID);
            assertEquals(RseqAbi.FLAGS + 8, RseqAbi.MM_CID);
        }
        describe(java, RseqAbi.STRUCT_RSEQ, true);
        describe(java, RseqAbi.STRUCT_RSEQ_CS, true);
        describe(java, CStructs.DL_PHDR_INFO, false);
        describe(java, CStructs.ELF64_PHDR, false);
        describe(java, CStructs.UTSNAME, false);
        if (!c.containsKey("rseq.node_id")) {
            java.remove("rseq.node_id");
            java.remove("rseq.mm_cid");
        }
        assertEquals(c, java, "layouts against gcc's offsetof/sizeof");
    }

    @Test
    void theRseqOffsetsThatCodeAndReadersUseComeFromTheLayout() {
        CValues.assertNumbers("struct rseq: cpu_id_start, cpu_id, rseq_cs, flags, node_id, mm_cid, minimum length and"
                + " alignment", new long[] {0, 4, 8, 16, 20, 24, 32, 32}, RseqAbi.CPU_ID_START, RseqAbi.CPU_ID,
                RseqAbi.RSEQ_CS, RseqAbi.FLAGS, RseqAbi.NODE_ID, RseqAbi.MM_CID, RseqAbi.MIN_LENGTH, RseqAbi.MIN_ALIGN);
    }

    @Test
    void glibcsTcbheadAndDtvEntryAreTheX86_64ValuesOfItsPrivateHeaders() {
        CValues.assertNumbers("tcbhead_t: tcb, dtv, self, the size read; dtv_t: entry size, to_free",
                new long[] {0, 8, 16, 24, 16, 8}, CStructs.TCB_TCB, CStructs.TCB_DTV, CStructs.TCB_SELF,
                CStructs.TCBHEAD.byteSize(), CStructs.DTV_ENTRY_SIZE, CStructs.DTV_TO_FREE);
    }

    @Test
    void aShorterStructOfAnOlderLoaderReadsItsMissingFieldsAsZero() {
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            java.lang.foreign.MemorySegment info = arena.allocate(CStructs.DL_PHDR_INFO);
            for (long i = 0; i < info.byteSize() / 8; i++) {
                info.setAtIndex(java.lang.foreign.ValueLayout.JAVA_LONG, i, i + 1);
            }
            long[] all = CStructs.read(info, CStructs.DL_PHDR_INFO);
            assertEquals(java.util.List.of(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L), java.util.Arrays.stream(all).boxed().toList(),
                    "addr, name, phdr, phnum (its low 2 bytes), adds, subs, tls_modid, tls_data");
            long[] older = CStructs.read(info.asSlice(0, 48), CStructs.DL_PHDR_INFO);
            assertEquals(0, older[6], "dlpi_tls_modid lies past a 48-byte struct");
            assertEquals(0, older[7]);
            assertEquals(6, older[5]);
        }
    }

    private static void describe(Map<String, Long> out, GroupLayout struct, boolean alignment) {
        String name = struct.name().orElseThrow();
        long offset = 0;
        for (MemoryLayout field : struct.memberLayouts()) {
            if (!(field instanceof PaddingLayout)) {
                out.put(name + "." + field.name().orElseThrow(), offset);
            }
            offset += field.byteSize();
        }
        out.put(name + ".sizeof", struct.byteSize());
        if (alignment) {
            out.put(name + ".alignof", struct.byteAlignment());
        }
    }

    private static Map<String, Long> compileAndRun(Path dir) throws IOException, InterruptedException {
        Path source = dir.resolve("offsets.c");
        Path exe = dir.resolve("offsets");
        Files.writeString(source, PROGRAM);
        String gcc = run(dir, "gcc", "-std=c11", "-DRSEQ_NODE_ID", "-o", exe.toString(), source.toString());
        if (gcc == null) {
            gcc = run(dir, "gcc", "-std=c11", "-o", exe.toString(), source.toString());
        }
        assumeTrue(gcc != null, "gcc with the C headers is needed to compare the layouts");
        String out = run(dir, exe.toString());
        Map<String, Long> values = new TreeMap<>();
        for (String line : out.strip().split("\n")) {
            int eq = line.indexOf('=');
            values.put(line.substring(0, eq), Long.parseLong(line.substring(eq + 1)));
        }
        return values;
    }

    /** Runs a command; null when it cannot start or fails (for gcc: skip), its output otherwise. */
    private static String run(Path dir, String... command) throws IOException, InterruptedException {
        Process p;
        try {
            p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        } catch (IOException e) {
            return null;
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(String.join(" ", command) + " did not finish in 60 s");
        }
        if (p.exitValue() != 0) {
            if (command[0].equals("gcc")) {
                return null;
            }
            throw new AssertionError(String.join(" ", command) + " failed: " + out);
        }
        return out;
    }
}
