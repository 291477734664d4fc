package dev.pkrseq.rseq;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.OptionalLong;

import dev.pkrseq.sys.MemoryCalls;
import dev.pkrseq.sys.RseqCalls;
import dev.pkrseq.sys.ThreadCalls;

/**
 * The restartable critical section behind {@link PerCpuCounter}: x86_64 machine code generated at run
 * time into a page of its own, with its {@code struct rseq_cs} descriptors, called through a critical
 * downcall.
 *
 * <p>The page is mapped read-write, filled ({@code int3} everywhere else), and switched to
 * read-execute before anything runs it: never writable and executable at once. It is <em>never
 * unmapped</em>: after a call returns, the thread's {@code rseq_cs} still points at a descriptor in it,
 * and the kernel clears that pointer only lazily, at the thread's next preemption or signal. Were the
 * page gone by then, the kernel's read of the descriptor would fail and it would SIGSEGV the thread (the
 * kernel selftests' {@code rseq_prepare_unload()} and librseq say the same of unloading code). librseq
 * does not clear {@code rseq_cs} after each critical section either; this code does not, and never writes
 * {@code cpu_id_start}, {@code cpu_id}, {@code node_id} or {@code mm_cid}.
 *
 * <p>There are two functions, both {@code long f(long slots, long delta[, long area])}, with the SysV
 * calling convention, using only registers a caller expects to lose (rax, rcx, rdx, r8, r9) and no stack:
 * <ul>
 *   <li><b>glibc</b> ({@code tp_entry}): glibc's area of the running thread, addressed through the fs
 *       segment, whose base is the thread pointer: {@code %fs:__rseq_offset} is thread pointer +
 *       {@code __rseq_offset}, embedded as a 32-bit displacement. The same address {@code mov %fs:0} and an
 *       add would give, with no load and no register. It finds the area of whatever thread runs it,
 *       including the carrier of a virtual thread, so the caller looks nothing up.</li>
 *   <li><b>area</b> ({@code area_entry}): the area whose address the caller passes in rdx, for pkrseq's
 *       own registration, whose areas live in {@link RseqRegistry}'s pool, not at the thread pointer.</li>
 * </ul>
 * Each stores its descriptor's address into {@code rseq_cs} (offset 8) before {@code start_ip}; then,
 * inside the section, loads {@code cpu_id} (offset 4), checks it against the slot count (unsigned, so the
 * -1 and -2 of an unregistered area fail too) and otherwise never indexes memory with it, loads the slot
 * (128 bytes apart: two cache lines, so the adjacent-line prefetcher does not pair slots of two CPUs),
 * adds, and stores: that store is the commit, and {@code post_commit_offset} ends right after it. If the
 * thread is preempted, migrated or signalled in the section, the kernel resumes it at {@code abort_ip},
 * right after the 4-byte signature ({@code 0f b9 3d} + 0x53053053, a {@code ud1} whose displacement is
 * the signature, as in the kernel selftests' x86 header). The abort handler counts the restart in eax
 * and retries; after {@value #RESTART_LIMIT} restarts in a row it returns instead, so that a pathological
 * run (a debugger single-stepping, a signal storm) never pins a thread inside a critical downcall, and
 * Java calls again.
 *
 * <p>The result in rax: bits 0-31 count the restarts of this call, bit 32 ({@link #NO_SLOT}) says
 * {@code cpu_id} had no slot and nothing was added, bit 33 ({@link #GAVE_UP}) says the call gave up
 * after {@value #RESTART_LIMIT} restarts and nothing was added. 0 is the common case: added, no restart.
 *
 * <p>The listing below is the code for {@code __rseq_offset} 2336, 2 slots, at page address 0 (a test
 * compares it with the generator, and assembles its text with {@code as} to compare the bytes). At run
 * time the descriptors' {@code start_ip} and {@code abort_ip} hold the page's address plus these offsets;
 * {@link #listing()} shows the code of the running process.
 *
 * <pre>
 * 0000                              cs_tp:                              struct rseq_cs of the glibc variant, 32-byte aligned
 * 0000  00 00 00 00                     .long 0                         version
 * 0004  00 00 00 00                     .long 0                         flags
 * 0008  52 00 00 00 00 00 00 00         .quad tp_start                  start_ip
 * 0010  1c 00 00 00 00 00 00 00         .quad tp_commit - tp_start      post_commit_offset
 * 0018  7c 00 00 00 00 00 00 00         .quad tp_abort                  abort_ip
 * 0020                              cs_area:                            struct rseq_cs of the area variant, 32-byte aligned
 * 0020  00 00 00 00                     .long 0                         version
 * 0024  00 00 00 00                     .long 0                         flags
 * 0028  9d 00 00 00 00 00 00 00         .quad area_start                start_ip
 * 0030  17 00 00 00 00 00 00 00         .quad area_commit - area_start  post_commit_offset
 * 0038  c2 00 00 00 00 00 00 00         .quad area_abort                abort_ip
 * 0040                              tp_entry:                           long tp_entry(slots = rdi, delta = rsi)
 * 0040  31 c0                           xor %eax,%eax                   rax = 0: no restart yet, no status bit
 * 0042                              tp_retry:
 * 0042  48 8d 15 b7 ff ff ff            lea cs_tp(%rip),%rdx            rdx = address of cs_tp
 * 0049  64 48 89 14 25 28 09 00 00      mov %rdx,%fs:0x928              rseq_cs = cs_tp (at tp + __rseq_offset + 8)
 * 0052                              tp_start:                           start_ip
 * 0052  64 8b 0c 25 24 09 00 00         mov %fs:0x924,%ecx              rcx = cpu_id (at tp + __rseq_offset + 4)
 * 005a  83 f9 02                        cmp $2,%ecx                     cpu_id below slots? (unsigned: -1, -2 fail)
 * 005d  73 10                           jae tp_no_slot                  no slot: leave, add nothing
 * 005f  48 c1 e1 07                     shl $7,%rcx                     rcx = cpu_id * 128, the slot's offset
 * 0063  4c 8b 04 0f                     mov (%rdi,%rcx,1),%r8           r8 = the slot
 * 0067  49 01 f0                        add %rsi,%r8                    r8 += delta
 * 006a  4c 89 04 0f                     mov %r8,(%rdi,%rcx,1)           the slot = r8: the commit
 * 006e                              tp_commit:                          post_commit_ip = start_ip + post_commit_offset
 * 006e  c3                              ret                             added; rax = restarts
 * 006f                              tp_no_slot:
 * 006f  48 0f ba e8 20                  bts $32,%rax                    status NO_SLOT
 * 0074  c3                              ret
 * 0075  0f b9 3d                        .byte 0x0f,0xb9,0x3d            ud1 opcode, ModRM: traps if run;
 * 0078  53 30 05 53                     .long 0x53053053                  its disp32 is RSEQ_SIG
 * 007c                              tp_abort:                           abort_ip: the kernel resumes here
 * 007c  ff c0                           inc %eax                        one more restart
 * 007e  83 f8 64                        cmp $100,%eax                   restarts below 100?
 * 0081  72 bf                           jb tp_retry                     below the limit: arm and try again
 * 0083  48 0f ba e8 21                  bts $33,%rax                    status GAVE_UP: Java calls again
 * 0088  c3                              ret
 * 0089  cc cc cc cc cc cc cc            .balign 16, 0xcc                int3 padding
 * 0090                              area_entry:                         long area_entry(slots = rdi, delta = rsi, area = rdx)
 * 0090  31 c0                           xor %eax,%eax                   rax = 0: no restart yet, no status bit
 * 0092                              area_retry:
 * 0092  48 8d 0d 87 ff ff ff            lea cs_area(%rip),%rcx          rcx = address of cs_area
 * 0099  48 89 4a 08                     mov %rcx,8(%rdx)                rseq_cs = cs_area (at area + 8)
 * 009d                              area_start:                         start_ip
 * 009d  8b 4a 04                        mov 4(%rdx),%ecx                rcx = cpu_id (at area + 4)
 * 00a0  83 f9 02                        cmp $2,%ecx                     cpu_id below slots? (unsigned: -1, -2 fail)
 * 00a3  73 10                           jae area_no_slot                no slot: leave, add nothing
 * 00a5  48 c1 e1 07                     shl $7,%rcx                     rcx = cpu_id * 128, the slot's offset
 * 00a9  4c 8b 04 0f                     mov (%rdi,%rcx,1),%r8           r8 = the slot
 * 00ad  49 01 f0                        add %rsi,%r8                    r8 += delta
 * 00b0  4c 89 04 0f                     mov %r8,(%rdi,%rcx,1)           the slot = r8: the commit
 * 00b4                              area_commit:                        post_commit_ip = start_ip + post_commit_offset
 * 00b4  c3                              ret                             added; rax = restarts
 * 00b5                              area_no_slot:
 * 00b5  48 0f ba e8 20                  bts $32,%rax                    status NO_SLOT
 * 00ba  c3                              ret
 * 00bb  0f b9 3d                        .byte 0x0f,0xb9,0x3d            ud1 opcode, ModRM: traps if run;
 * 00be  53 30 05 53                     .long 0x53053053                  its disp32 is RSEQ_SIG
 * 00c2                              area_abort:                         abort_ip: the kernel resumes here
 * 00c2  ff c0                           inc %eax                        one more restart
 * 00c4  83 f8 64                        cmp $100,%eax                   restarts below 100?
 * 00c7  72 c9                           jb area_retry                   below the limit: arm and try again
 * 00c9  48 0f ba e8 21                  bts $33,%rax                    status GAVE_UP: Java calls again
 * 00ce  c3                              ret
 * </pre>
 */
final class RseqCode {
    /** Result bit 32: {@code cpu_id} was negative (not registered) or had no slot; nothing was added. */
    static final long NO_SLOT = 1L << 32;
    /** Result bit 33: {@value #RESTART_LIMIT} restarts in a row; nothing was added; call again. */
    static final long GAVE_UP = 1L << 33;
    /** Restarts in a row after which a call returns to Java instead of retrying once more. */
    static final int RESTART_LIMIT = 100;
    /** log2 of the distance between two slots. */
    static final int SLOT_SHIFT = 7;
    /** Bytes between two slots: two cache lines. */
    static final int SLOT_BYTES = 1 << SLOT_SHIFT;
    /** {@code __rseq_offset} of the documented listing (glibc 2.36 on x86_64). */
    static final long LISTING_RSEQ_OFFSET = 2336;
    /** Slot count of the documented listing. */
    static final int LISTING_SLOTS = 2;

    private static final FunctionDescriptor GLIBC_SIGNATURE = FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG);
    private static final FunctionDescriptor AREA_SIGNATURE = FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG,
            JAVA_LONG);

    private final long base;
    private final OptionalLong rseqOffset;
    private final int slots;
    private final int delayLoops;
    private final X86Asm asm;
    private final byte[] bytes;

    private RseqCode(long base, OptionalLong rseqOffset, int slots, int delayLoops) {
        if (slots < 1) {
            throw new IllegalArgumentException("slots must be at least 1, not " + slots);
        }
        if (delayLoops < 0) {
            throw new IllegalArgumentException("delayLoops must not be negative");
        }
        this.base = base;
        this.rseqOffset = rseqOffset;
        this.slots = slots;
        this.delayLoops = delayLoops;
        this.asm = new X86Asm(base);
        emit();
        this.bytes = asm.assemble();
    }

    /**
     * Generates the code for a page at {@code base} without mapping anything: for listings and tests.
     *
     * @param base the page's address
     * @param rseqOffset glibc's {@code __rseq_offset}, or empty to leave out the glibc variant
     * @param slots the slot count the code checks cpu_id against
     * @param delayLoops 0 for the real code; otherwise a spin of that many iterations between the slot's
     *     load and the commit, to widen the section the way the kernel's param_test injects delays
     * @return the code
     */
    static RseqCode generate(long base, OptionalLong rseqOffset, int slots, int delayLoops) {
        return new RseqCode(base, rseqOffset, slots, delayLoops);
    }

    /**
     * Maps a page, writes the code into it, and makes it read-execute. The page is never unmapped.
     *
     * @param rseqOffset glibc's {@code __rseq_offset}, or empty to leave out the glibc variant
     * @param slots the slot count the code checks cpu_id against
     * @param delayLoops 0 for the real code; more to widen the section (tests)
     * @return the code, at its page
     */
    static RseqCode map(OptionalLong rseqOffset, int slots, int delayLoops) {
        long page = MemoryCalls.pageSize();
        long address = MemoryCalls.mmap(0, page, MemoryCalls.PROT_READ | MemoryCalls.PROT_WRITE, MemoryCalls.MAP_PRIVATE | MemoryCalls.MAP_ANONYMOUS, -1, 0);
        RseqCode code;
        try {
            code = new RseqCode(address, rseqOffset, slots, delayLoops);
            if (code.bytes.length > page) {
                throw new IllegalStateException("generated code of " + code.bytes.length + " bytes exceeds a page");
            }
            MemorySegment mem = MemoryCalls.memory(address, page);
            mem.fill((byte) 0xcc);
            MemorySegment.copy(code.bytes, 0, mem, JAVA_BYTE, 0, code.bytes.length);
            MemoryCalls.mprotect(address, page, MemoryCalls.PROT_READ | MemoryCalls.PROT_EXEC);
        } catch (RuntimeException | Error e) {
            // Nothing has run from the page, so no rseq_cs can point into it yet: unmapping is safe here.
            MemoryCalls.munmap(address, page);
            throw e;
        }
        return code;
    }

    /** The code every {@link PerCpuCounter} of the process runs, mapped on first use. */
    static final class Shared {
        static final RseqCode CODE = map(usableGlibcOffset(), possibleCpus(), 0);
        /** {@code long tp_entry(long slots, long delta)}, or null where glibc exports no offset. */
        static final MethodHandle GLIBC = CODE.glibcHandle();
        /** {@code long area_entry(long slots, long delta, long area)}. */
        static final MethodHandle AREA = CODE.areaHandle();

        private Shared() {
        }
    }

    /**
     * A critical downcall handle to the glibc variant. Build it once and keep it in a static final field.
     *
     * @return the handle, or null when this code has no glibc variant
     */
    MethodHandle glibcHandle() {
        return rseqOffset.isPresent() ? RseqCalls.downcall(MemorySegment.ofAddress(base + asm.offset("tp_entry")),
                GLIBC_SIGNATURE, true) : null;
    }

    /**
     * A critical downcall handle to the area variant.
     *
     * @return the handle
     */
    MethodHandle areaHandle() {
        return RseqCalls.downcall(MemorySegment.ofAddress(base + asm.offset("area_entry")), AREA_SIGNATURE, true);
    }

    /**
     * The listing: every instruction's offset, bytes, assembler text and purpose.
     *
     * @return one line per instruction or label
     */
    String listing() {
        return asm.listing();
    }

    /** GNU assembler source for the same bytes, at page address {@link #base()}. */
    String assemblerSource() {
        return asm.source();
    }

    byte[] bytes() {
        return bytes.clone();
    }

    List<X86Asm.Line> lines() {
        return asm.lines();
    }

    long base() {
        return base;
    }

    int slots() {
        return slots;
    }

    OptionalLong rseqOffset() {
        return rseqOffset;
    }

    /** A label's offset in the page, for tests: {@code tp_start}, {@code cs_area}, ... */
    int offset(String label) {
        return asm.offset(label);
    }

    /**
     * glibc's {@code __rseq_offset}, where glibc registers threads and the offset fits the code's 32-bit
     * displacements.
     *
     * @return the offset, or empty where the glibc variant would be of no use
     */
    static OptionalLong usableGlibcOffset() {
        OptionalLong off = Rseq.glibcOffset();
        if (Rseq.glibcSize() > 0 && off.isPresent() && fitsDisplacement(off.getAsLong())) {
            return off;
        }
        return OptionalLong.empty();
    }

    static boolean fitsDisplacement(long rseqOffset) {
        return rseqOffset >= Integer.MIN_VALUE && rseqOffset + RseqAbi.RSEQ_CS <= Integer.MAX_VALUE;
    }

    /**
     * The number of CPU ids the kernel may ever report: the highest CPU in
     * {@code /sys/devices/system/cpu/possible}, plus one. It covers CPUs that are offline or not yet
     * plugged in, which {@code _SC_NPROCESSORS_ONLN} would miss.
     *
     * @return the slot count per-CPU data needs; the online count where sysfs cannot be read
     */
    static int possibleCpus() {
        try {
            return parseCpuList(Files.readString(Path.of("/sys/devices/system/cpu/possible")).strip()) + 1;
        } catch (IOException | RuntimeException e) {
            return Math.max(ThreadCalls.onlineCpus(), Runtime.getRuntime().availableProcessors());
        }
    }

    /** The highest CPU of a kernel CPU list such as {@code 0-3,8-11}. */
    static int parseCpuList(String list) {
        int max = -1;
        for (String part : list.split(",")) {
            String p = part.strip();
            int dash = p.indexOf('-');
            max = Math.max(max, Integer.parseInt(dash < 0 ? p : p.substring(dash + 1)));
        }
        if (max < 0) {
            throw new IllegalArgumentException("empty CPU list");
        }
        return max;
    }

    // ---- The code ---------------------------------------------------------------------------------

    private void emit() {
        boolean glibc = rseqOffset.isPresent();
        if (glibc) {
            descriptor("cs_tp", "tp", "glibc variant");
        }
        descriptor("cs_area", "area", "area variant");
        if (glibc) {
            long off = rseqOffset.getAsLong();
            if (!fitsDisplacement(off)) {
                throw new IllegalArgumentException("__rseq_offset " + off + " does not fit a 32-bit displacement");
            }
            asm.label("tp_entry", "long tp_entry(slots = rdi, delta = rsi)");
            asm.op("xor %eax,%eax", "rax = 0: no restart yet, no status bit", 0x31, 0xc0);
            asm.label("tp_retry", "");
            asm.rel32("lea cs_tp(%rip),%rdx", "rdx = address of cs_tp", "cs_tp", 0x48, 0x8d, 0x15);
            asm.op("mov %rdx,%fs:" + signedHex(off + RseqAbi.RSEQ_CS), "rseq_cs = cs_tp (at tp + __rseq_offset + " + RseqAbi.RSEQ_CS + ")",
                    X86Asm.cat(new int[] {0x64, 0x48, 0x89, 0x14, 0x25}, X86Asm.le32(off + RseqAbi.RSEQ_CS)));
            asm.label("tp_start", "start_ip");
            asm.op("mov %fs:" + signedHex(off + RseqAbi.CPU_ID) + ",%ecx", "rcx = cpu_id (at tp + __rseq_offset + " + RseqAbi.CPU_ID + ")",
                    X86Asm.cat(new int[] {0x64, 0x8b, 0x0c, 0x25}, X86Asm.le32(off + RseqAbi.CPU_ID)));
            body("tp");
        }
        asm.align(16, 0xcc, "int3 padding");
        asm.label("area_entry", "long area_entry(slots = rdi, delta = rsi, area = rdx)");
        asm.op("xor %eax,%eax", "rax = 0: no restart yet, no status bit", 0x31, 0xc0);
        asm.label("area_retry", "");
        asm.rel32("lea cs_area(%rip),%rcx", "rcx = address of cs_area", "cs_area", 0x48, 0x8d, 0x0d);
        asm.op("mov %rcx," + RseqAbi.RSEQ_CS + "(%rdx)", "rseq_cs = cs_area (at area + " + RseqAbi.RSEQ_CS + ")", 0x48,
                0x89, 0x4a, disp8(RseqAbi.RSEQ_CS));
        asm.label("area_start", "start_ip");
        asm.op("mov " + RseqAbi.CPU_ID + "(%rdx),%ecx", "rcx = cpu_id (at area + " + RseqAbi.CPU_ID + ")", 0x8b, 0x4a,
                disp8(RseqAbi.CPU_ID));
        body("area");
    }

    /** A struct rseq_cs, field by field in the layout's order, so the bytes follow RseqAbi.STRUCT_RSEQ_CS. */
    private void descriptor(String label, String prefix, String what) {
        asm.align((int) RseqAbi.STRUCT_RSEQ_CS.byteAlignment(), 0xcc, "int3 padding");
        asm.label(label, "struct rseq_cs of the " + what + ", " + RseqAbi.STRUCT_RSEQ_CS.byteAlignment()
                + "-byte aligned");
        for (MemoryLayout field : RseqAbi.STRUCT_RSEQ_CS.memberLayouts()) {
            String name = field.name().orElseThrow();
            switch (name) {
                case "version", "flags" -> asm.op(".long 0", name, 0, 0, 0, 0);
                case "start_ip" -> asm.quad(prefix + "_start", name);
                case "post_commit_offset" -> asm.quadDifference(prefix + "_commit", prefix + "_start", name);
                case "abort_ip" -> asm.quad(prefix + "_abort", name);
                default -> throw new AssertionError("struct rseq_cs has no field " + name);
            }
        }
    }

    /** A one-byte displacement, for struct rseq offsets the code addresses through a register. */
    private static int disp8(int offset) {
        if (offset < 0 || offset > Byte.MAX_VALUE) {
            throw new AssertionError("offset " + offset + " does not fit a disp8");
        }
        return offset;
    }

    /** From the cpu_id bounds check to the abort handler; the same bytes in both variants. */
    private void body(String p) {
        if (slots <= Byte.MAX_VALUE) {
            asm.op("cmp $" + slots + ",%ecx", "cpu_id below slots? (unsigned: -1, -2 fail)", 0x83, 0xf9, slots);
        } else {
            asm.op("cmp $" + slots + ",%ecx", "cpu_id below slots? (unsigned: -1, -2 fail)",
                    X86Asm.cat(new int[] {0x81, 0xf9}, X86Asm.le32(slots)));
        }
        asm.rel8("jae " + p + "_no_slot", "no slot: leave, add nothing", p + "_no_slot", 0x73);
        asm.op("shl $" + SLOT_SHIFT + ",%rcx", "rcx = cpu_id * " + SLOT_BYTES + ", the slot's offset", 0x48, 0xc1, 0xe1,
                SLOT_SHIFT);
        asm.op("mov (%rdi,%rcx,1),%r8", "r8 = the slot", 0x4c, 0x8b, 0x04, 0x0f);
        if (delayLoops > 0) {
            asm.op("mov $" + delayLoops + ",%r9d", "injected delay (tests only)",
                    X86Asm.cat(new int[] {0x41, 0xb9}, X86Asm.le32(delayLoops)));
            asm.label(p + "_delay", "");
            asm.op("dec %r9d", "", 0x41, 0xff, 0xc9);
            asm.rel8("jnz " + p + "_delay", "", p + "_delay", 0x75);
        }
        asm.op("add %rsi,%r8", "r8 += delta", 0x49, 0x01, 0xf0);
        asm.op("mov %r8,(%rdi,%rcx,1)", "the slot = r8: the commit", 0x4c, 0x89, 0x04, 0x0f);
        asm.label(p + "_commit", "post_commit_ip = start_ip + post_commit_offset");
        asm.op("ret", "added; rax = restarts", 0xc3);
        asm.label(p + "_no_slot", "");
        asm.op("bts $32,%rax", "status NO_SLOT", 0x48, 0x0f, 0xba, 0xe8, 0x20);
        asm.op("ret", "", 0xc3);
        asm.op(".byte 0x0f,0xb9,0x3d", "ud1 opcode, ModRM: traps if run;", 0x0f, 0xb9, 0x3d);
        asm.op(".long " + signedHex(RseqAbi.SIGNATURE_X86_64), "  its disp32 is RSEQ_SIG",
                X86Asm.le32(RseqAbi.SIGNATURE_X86_64));
        asm.label(p + "_abort", "abort_ip: the kernel resumes here");
        asm.op("inc %eax", "one more restart", 0xff, 0xc0);
        asm.op("cmp $" + RESTART_LIMIT + ",%eax", "restarts below " + RESTART_LIMIT + "?", 0x83, 0xf8, RESTART_LIMIT);
        asm.rel8("jb " + p + "_retry", "below the limit: arm and try again", p + "_retry", 0x72);
        asm.op("bts $33,%rax", "status GAVE_UP: Java calls again", 0x48, 0x0f, 0xba, 0xe8, 0x21);
        asm.op("ret", "", 0xc3);
    }

    private static String signedHex(long v) {
        return v < 0 ? "-0x" + Long.toHexString(-v) : "0x" + Long.toHexString(v);
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "RseqCode[page 0x%x, %d bytes, %s, %d slots%s]", base, bytes.length,
                rseqOffset.isPresent() ? "__rseq_offset " + rseqOffset.getAsLong() : "no glibc variant", slots,
                delayLoops > 0 ? ", delay " + delayLoops : "");
    }
}
