package dev.pkrseq.rseq;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.ref.Cleaner;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeSet;

import dev.pkrseq.rseq.X86.Insn;
import dev.pkrseq.rseq.X86.Mem;
import dev.pkrseq.rseq.X86.R;
import dev.pkrseq.sys.MemoryCalls;
import dev.pkrseq.sys.RseqCalls;
import dev.pkrseq.sys.ThreadCalls;

/**
 * The restartable critical sections behind {@link PerCpuOps}: librseq's seven primitives as x86_64 machine
 * code generated at run time, each function with its own {@code struct rseq_cs} descriptor, abort handler
 * and signature, in pages that are written read-write and then made read-execute: never writable and
 * executable at once.
 *
 * <p>Every primitive comes in four functions: two ways of finding the running thread's struct rseq, times
 * two indexes:
 * <ul>
 *   <li><b>tp</b>: glibc's area, at {@code %fs:__rseq_offset} (fs base = thread pointer), a 32-bit
 *       displacement in the code; <b>area</b>: the area whose address the caller passes as the last
 *       argument (pkrseq's own registration);</li>
 *   <li><b>cpu</b>: indexed by {@code cpu_id}; <b>cid</b>: indexed by {@code mm_cid}.</li>
 * </ul>
 * A function reads the index <em>inside</em> its section, checks it against the slot count (unsigned, so
 * -1 and -2 fail too), and adds {@code index × stride} to each per-CPU pointer argument, so the caller
 * passes CPU 0's address and never needs to know the CPU. The section's last store is the commit; if the
 * thread is preempted, migrated or signalled before it, the kernel resumes it at the abort handler, which
 * returns ABORTED, and Java calls again.
 *
 * <p>Return value in rax: a success is {@code >= 0}: the index the section ran on (or, for
 * {@code take}, the pointer it took). A failure is {@code ~(index << 8 | code)}, negative:
 * {@link #CMP_FAILED}, {@link #ABORTED} (index unknown: 0), {@link #NO_SLOT} (the raw index word),
 * {@link #BAD_POINTER}.
 *
 * <p>Registers: only those a SysV caller expects to lose (rax, rcx, rdx, rsi, rdi, r8-r11); no stack
 * except arguments 7 and 8, read from it. r11 holds the index, r10 {@code index × stride} and then a
 * temporary, rax the injected delays' counter and the result.
 *
 * <p>Pages mapped for a {@link Config} with {@code clearRseqCs} also store 0 into {@code rseq_cs} on every
 * way out (commit, comparison failure, no slot, abort), so that no thread's {@code rseq_cs} points into
 * the page once it has returned: such a page may be unmapped once no thread runs it (librseq's
 * {@code rseq_prepare_unload()}, for every thread at once). The process-wide page ({@link Shared}) is never
 * unmapped and leaves {@code rseq_cs} for the kernel to clear lazily, as librseq does.
 *
 * <p>The listings in docs/rseq-toolkit.md and README.md are this generator's output ({@code RseqToolkitDocTest}
 * compares them), and {@code RseqCodeTest} assembles the text of the pages it builds with GNU {@code as} and
 * compares every byte.
 */
final class RseqCode {
    /** Failure code: the comparison the primitive makes did not hold (librseq's "ne" or "eq", 1). */
    static final int CMP_FAILED = 1;
    /** Failure code: the kernel aborted the section (librseq's -1); nothing was committed. */
    static final int ABORTED = 2;
    /** Failure code: the index read was negative (not registered) or had no slot; nothing was touched. */
    static final int NO_SLOT = 3;
    /** Failure code: a pointer the section was to follow lay outside the region it may point into. */
    static final int BAD_POINTER = 4;

    /** Aborts in a row after which the bulk add returns to Java instead of retrying once more. */
    static final int ADD_ALL_RESTART_LIMIT = 100;
    /** The stride of the process-wide page: 64 KiB between two CPUs' copies of a datum. */
    static final long DEFAULT_STRIDE = 1L << 16;
    /** {@code __rseq_offset} of the documented listings (glibc 2.36 on x86_64). */
    static final long LISTING_RSEQ_OFFSET = 2336;
    /** Slot count of the documented listings. */
    static final int LISTING_SLOTS = 2;

    private static final R[] ARG = {R.RDI, R.RSI, R.RDX, R.RCX, R.R8, R.R9};
    private static final Cleaner CLEANER = Cleaner.create();

    /** The primitives, with their librseq names and C signatures (the area variant adds one argument). */
    enum Primitive {
        /** {@code rseq_load_cbne_store}. */
        COMPARE_AND_STORE("cas", "load_cbne_store", "v, expect, newv", 1, 1, 1),
        /** {@code rseq_load_add_store}. */
        ADD("add", "load_add_store", "v, count", 1, 1),
        /** {@code rseq_load_cbeq_store_add_load_store}. */
        TAKE_AND_FOLLOW("take", "load_cbeq_store_add_load_store", "v, expectnot, offset, lo, limit", 1, 1, 1, 0, 1),
        /**
         * pkrseq's push of a linked stack: load the head, store it into the node's next pointer (speculative),
         * store the node as the head (the commit). librseq's param_test reads the head before its
         * {@code load_cbne_store}; here the section reads it, which saves Java a CPU lookup.
         */
        PUSH_LINK("push", "load, store, store: a push", "v, node, offset, lo, limit", 1, 1, 1, 0, 1),
        /** {@code rseq_load_add_load_load_add_store}. */
        ADD_INDIRECT("addind", "load_add_load_load_add_store", "ptr, off, inc, lo1, limit1, lo2, limit2", 0, 1, 1, 0,
                1, 0, 1),
        /** {@code rseq_load_cbne_load_cbne_store}. */
        COMPARE_BOTH_AND_STORE("cas2", "load_cbne_load_cbne_store", "v, expect, v2, expect2, newv", 1, 1, 1, 1, 1),
        /** {@code rseq_load_cbne_store_store}. */
        COMPARE_STORE_AND_STORE("casst", "load_cbne_store_store", "v, expect, v2, newv2, newv", 1, 1, 1, 1, 1),
        /** {@code rseq_load_cbne_memcpy_store}, the per-CPU side being the copy's destination. */
        COMPARE_COPY_IN_AND_STORE("cpin", "load_cbne_memcpy_store", "v, expect, dst, src, len, newv", 1, 1, 1, 1, 1, 1),
        /** {@code rseq_load_cbne_memcpy_store}, the per-CPU side being the copy's source. */
        COMPARE_COPY_OUT_AND_STORE("cpout", "load_cbne_memcpy_store", "v, expect, dst, src, len, newv", 1, 1, 1, 1, 1, 1),
        /**
         * pkrseq's bulk form of {@code rseq_load_add_store}: n consecutive words, each added in a section of its
         * own, in one call.
         */
        ADD_ALL("addall", "load_add_store, n times", "v, deltas, n", 1, 1, 1),
        /**
         * pkrseq's bulk form of {@code rseq_load_cbeq_store_add_load_store} with the sentinel 0: up to n pops of
         * a linked stack, each in a section of its own, the pointers taken written to {@code out}.
         */
        POP_ALL("popall", "load_cbeq_store_add_load_store, n times", "v, offset, lo, limit, out, n", 1, 1, 1, 1, 1, 1),
        /**
         * pkrseq's bulk push of a linked stack: for each node, one section loads the head, stores it into the
         * node's next pointer (speculative) and stores the node as the head (the commit).
         */
        PUSH_ALL("pushall", "load, store, store: a push, n times", "v, nodes, offset, lo, limit, n", 1, 1, 1, 1, 1, 1);

        final String tag;
        final String librseq;
        final String[] params;
        // 1 where the argument is a long, 0 where it is an address (MemorySegment).
        final int[] longs;

        Primitive(String tag, String librseq, String params, int... longs) {
            this.tag = tag;
            this.librseq = librseq;
            this.params = params.split(", ");
            this.longs = longs.clone();
            // Pointer arguments are addresses so that the linker keeps their memory alive during the call.
            for (int i = 0; i < this.params.length; i++) {
                String p = this.params[i];
                if (p.equals("v") || p.equals("v2") || p.equals("ptr") || p.startsWith("lo") || p.equals("dst")
                        || p.equals("src") || p.equals("deltas") || p.equals("out") || p.equals("nodes")) {
                    this.longs[i] = 0;
                }
            }
        }

        int args() {
            return params.length;
        }

        FunctionDescriptor descriptor(boolean area) {
            List<MemoryLayout> args = new ArrayList<>();
            for (int l : longs) {
                args.add(l == 1 ? JAVA_LONG : ADDRESS);
            }
            if (area) {
                args.add(JAVA_LONG);
            }
            return FunctionDescriptor.of(JAVA_LONG, args.toArray(MemoryLayout[]::new));
        }
    }

    /** How a function finds the running thread's struct rseq. */
    enum Where {
        /** glibc's area at {@code %fs:__rseq_offset}. */
        TP("tp"),
        /** The area passed as the last argument. */
        AREA("area");

        final String tag;

        Where(String tag) {
            this.tag = tag;
        }
    }

    /**
     * What a page is generated for.
     *
     * @param stride bytes between two CPUs' copies of a datum, a power of two, at least 8
     * @param slots the index bound: one more than the highest CPU (or mm_cid) a datum has a copy for
     * @param rseqOffset glibc's {@code __rseq_offset}, or empty to leave out the tp functions
     * @param delays spin loops at the injection points; {@link DelayInjection#NONE} for the real code
     * @param clearRseqCs whether every way out stores 0 into {@code rseq_cs}, so the page may be unmapped
     */
    record Config(long stride, int slots, OptionalLong rseqOffset, DelayInjection delays, boolean clearRseqCs) {
        Config {
            if (stride < 8 || Long.bitCount(stride) != 1 || stride > 1L << 30) {
                throw new IllegalArgumentException("stride must be a power of two from 8 to 2^30 bytes, not " + stride);
            }
            if (slots < 1) {
                throw new IllegalArgumentException("slots must be at least 1, not " + slots);
            }
            if (rseqOffset.isPresent() && !fitsDisplacement(rseqOffset.getAsLong())) {
                throw new IllegalArgumentException("__rseq_offset " + rseqOffset.getAsLong()
                        + " does not fit a 32-bit displacement");
            }
        }

        /** The process-wide page: default stride, one slot per possible CPU, glibc's offset if usable. */
        static Config shared() {
            return new Config(DEFAULT_STRIDE, possibleCpus(), usableGlibcOffset(), DelayInjection.NONE, false);
        }

        /** The configuration of the documented listings. */
        static Config listing() {
            return new Config(DEFAULT_STRIDE, LISTING_SLOTS, OptionalLong.of(LISTING_RSEQ_OFFSET), DelayInjection.NONE,
                    false);
        }

        int shift() {
            return Long.numberOfTrailingZeros(stride);
        }
    }

    /** Lines of one function in the listing: its descriptor's and its code's. */
    private record Span(int descriptorFrom, int descriptorTo, int codeFrom, int codeTo) {
    }

    private final long base;
    private final Config config;
    private final X86Asm asm;
    private final byte[] bytes;
    // Lines of conditional jumps that need a rel32: those a rel8 cannot reach, as GNU as relaxes them.
    private final Set<Integer> longJumps;
    private final Map<String, Span> spans = new LinkedHashMap<>();
    private long mappedLength;

    private RseqCode(long base, Config config, Set<Integer> longJumps) {
        this.base = base;
        this.config = config;
        this.longJumps = longJumps;
        this.asm = new X86Asm(base);
        emit();
        this.bytes = asm.assemble();
    }

    /**
     * Generates the code for pages at {@code base} without mapping anything: for listings and tests.
     * Conditional jumps are short (rel8) where the target is within reach and near (rel32) where it is not,
     * found the way GNU as relaxes branches: start all short, lengthen those out of reach, repeat.
     *
     * @param base the first page's address
     * @param config what to generate
     * @return the code
     */
    static RseqCode generate(long base, Config config) {
        Set<Integer> far = new TreeSet<>();
        for (;;) {
            try {
                return new RseqCode(base, config, Set.copyOf(far));
            } catch (X86Asm.ShortJumpsOutOfRange e) {
                if (!far.addAll(e.lines())) {
                    throw e;
                }
            }
        }
    }

    /**
     * Maps pages, writes the code into them, and makes them read-execute. Pages of a config with
     * {@code clearRseqCs} are unmapped once the returned object is unreachable (no thread can then be running
     * them, and none has {@code rseq_cs} pointing into them); the others never are.
     *
     * @param config what to generate
     * @return the code, at its pages
     */
    static RseqCode map(Config config) {
        int size = generate(0, config).bytes.length;
        long page = MemoryCalls.pageSize();
        long length = (size + page - 1) / page * page;
        long address = MemoryCalls.mmap(0, length, MemoryCalls.PROT_READ | MemoryCalls.PROT_WRITE, MemoryCalls.MAP_PRIVATE | MemoryCalls.MAP_ANONYMOUS, -1, 0);
        RseqCode code;
        try {
            code = generate(address, config);
            MemorySegment mem = MemoryCalls.memory(address, length);
            mem.fill((byte) 0xcc);
            MemorySegment.copy(code.bytes, 0, mem, JAVA_BYTE, 0, code.bytes.length);
            MemoryCalls.mprotect(address, length, MemoryCalls.PROT_READ | MemoryCalls.PROT_EXEC);
        } catch (RuntimeException | Error e) {
            // Nothing has run from the pages, so no rseq_cs can point into them yet: unmapping is safe here.
            MemoryCalls.munmap(address, length);
            throw e;
        }
        code.mappedLength = length;
        if (config.clearRseqCs()) {
            CLEANER.register(code, () -> MemoryCalls.munmap(address, length));
        }
        return code;
    }

    /** The code every {@link PerCpuOps} of the default stride runs, mapped on first use, never unmapped. */
    static final class Shared {
        static final RseqCode CODE = map(Config.shared());
        static final MethodHandle CAS_TP_CPU = CODE.handle(Primitive.COMPARE_AND_STORE, Where.TP, PerCpuOps.Index.CPU_ID);
        static final MethodHandle CAS_TP_CID = CODE.handle(Primitive.COMPARE_AND_STORE, Where.TP, PerCpuOps.Index.MM_CID);
        static final MethodHandle CAS_AREA_CPU = CODE.handle(Primitive.COMPARE_AND_STORE, Where.AREA,
                PerCpuOps.Index.CPU_ID);
        static final MethodHandle CAS_AREA_CID = CODE.handle(Primitive.COMPARE_AND_STORE, Where.AREA,
                PerCpuOps.Index.MM_CID);
        static final MethodHandle ADD_TP_CPU = CODE.handle(Primitive.ADD, Where.TP, PerCpuOps.Index.CPU_ID);
        static final MethodHandle ADD_TP_CID = CODE.handle(Primitive.ADD, Where.TP, PerCpuOps.Index.MM_CID);
        static final MethodHandle ADD_AREA_CPU = CODE.handle(Primitive.ADD, Where.AREA, PerCpuOps.Index.CPU_ID);
        static final MethodHandle ADD_AREA_CID = CODE.handle(Primitive.ADD, Where.AREA, PerCpuOps.Index.MM_CID);
        static final MethodHandle TAKE_TP_CPU = CODE.handle(Primitive.TAKE_AND_FOLLOW, Where.TP, PerCpuOps.Index.CPU_ID);
        static final MethodHandle TAKE_TP_CID = CODE.handle(Primitive.TAKE_AND_FOLLOW, Where.TP, PerCpuOps.Index.MM_CID);
        static final MethodHandle TAKE_AREA_CPU = CODE.handle(Primitive.TAKE_AND_FOLLOW, Where.AREA,
                PerCpuOps.Index.CPU_ID);
        static final MethodHandle TAKE_AREA_CID = CODE.handle(Primitive.TAKE_AND_FOLLOW, Where.AREA,
                PerCpuOps.Index.MM_CID);
        static final MethodHandle PUSH_TP_CPU = CODE.handle(Primitive.PUSH_LINK, Where.TP, PerCpuOps.Index.CPU_ID);
        static final MethodHandle PUSH_TP_CID = CODE.handle(Primitive.PUSH_LINK, Where.TP, PerCpuOps.Index.MM_CID);
        static final MethodHandle PUSH_AREA_CPU = CODE.handle(Primitive.PUSH_LINK, Where.AREA, PerCpuOps.Index.CPU_ID);
        static final MethodHandle PUSH_AREA_CID = CODE.handle(Primitive.PUSH_LINK, Where.AREA, PerCpuOps.Index.MM_CID);
        static final MethodHandle ADDIND_TP_CPU = CODE.handle(Primitive.ADD_INDIRECT, Where.TP, PerCpuOps.Index.CPU_ID);
        static final MethodHandle ADDIND_TP_CID = CODE.handle(Primitive.ADD_INDIRECT, Where.TP, PerCpuOps.Index.MM_CID);
        static final MethodHandle ADDIND_AREA_CPU = CODE.handle(Primitive.ADD_INDIRECT, Where.AREA,
                PerCpuOps.Index.CPU_ID);
        static final MethodHandle ADDIND_AREA_CID = CODE.handle(Primitive.ADD_INDIRECT, Where.AREA,
                PerCpuOps.Index.MM_CID);
        static final MethodHandle CAS2_TP_CPU = CODE.handle(Primitive.COMPARE_BOTH_AND_STORE, Where.TP,
                PerCpuOps.Index.CPU_ID);
        static final MethodHandle CAS2_TP_CID = CODE.handle(Primitive.COMPARE_BOTH_AND_STORE, Where.TP,
                PerCpuOps.Index.MM_CID);
        static final MethodHandle CAS2_AREA_CPU = CODE.handle(Primitive.COMPARE_BOTH_AND_STORE, Where.AREA,
                PerCpuOps.Index.CPU_ID);
        static final MethodHandle CAS2_AREA_CID = CODE.handle(Primitive.COMPARE_BOTH_AND_STORE, Where.AREA,
                PerCpuOps.Index.MM_CID);
        static final MethodHandle CASST_TP_CPU = CODE.handle(Primitive.COMPARE_STORE_AND_STORE, Where.TP,
                PerCpuOps.Index.CPU_ID);
        static final MethodHandle CASST_TP_CID = CODE.handle(Primitive.COMPARE_STORE_AND_STORE, Where.TP,
                PerCpuOps.Index.MM_CID);
        static final MethodHandle CASST_AREA_CPU = CODE.handle(Primitive.COMPARE_STORE_AND_STORE, Where.AREA,
                PerCpuOps.Index.CPU_ID);
        static final MethodHandle CASST_AREA_CID = CODE.handle(Primitive.COMPARE_STORE_AND_STORE, Where.AREA,
                PerCpuOps.Index.MM_CID);
        static final MethodHandle CPIN_TP_CPU = CODE.handle(Primitive.COMPARE_COPY_IN_AND_STORE, Where.TP,
                PerCpuOps.Index.CPU_ID);
        static final MethodHandle CPIN_TP_CID = CODE.handle(Primitive.COMPARE_COPY_IN_AND_STORE, Where.TP,
                PerCpuOps.Index.MM_CID);
        static final MethodHandle CPIN_AREA_CPU = CODE.handle(Primitive.COMPARE_COPY_IN_AND_STORE, Where.AREA,
                PerCpuOps.Index.CPU_ID);
        static final MethodHandle CPIN_AREA_CID = CODE.handle(Primitive.COMPARE_COPY_IN_AND_STORE, Where.AREA,
                PerCpuOps.Index.MM_CID);
        static final MethodHandle CPOUT_TP_CPU = CODE.handle(Primitive.COMPARE_COPY_OUT_AND_STORE, Where.TP,
                PerCpuOps.Index.CPU_ID);
        static final MethodHandle CPOUT_TP_CID = CODE.handle(Primitive.COMPARE_COPY_OUT_AND_STORE, Where.TP,
                PerCpuOps.Index.MM_CID);
        static final MethodHandle CPOUT_AREA_CPU = CODE.handle(Primitive.COMPARE_COPY_OUT_AND_STORE, Where.AREA,
                PerCpuOps.Index.CPU_ID);
        static final MethodHandle CPOUT_AREA_CID = CODE.handle(Primitive.COMPARE_COPY_OUT_AND_STORE, Where.AREA,
                PerCpuOps.Index.MM_CID);

        static final MethodHandle ADDALL_TP_CPU = CODE.handle(Primitive.ADD_ALL, Where.TP, PerCpuOps.Index.CPU_ID);
        static final MethodHandle ADDALL_TP_CID = CODE.handle(Primitive.ADD_ALL, Where.TP, PerCpuOps.Index.MM_CID);
        static final MethodHandle ADDALL_AREA_CPU = CODE.handle(Primitive.ADD_ALL, Where.AREA, PerCpuOps.Index.CPU_ID);
        static final MethodHandle ADDALL_AREA_CID = CODE.handle(Primitive.ADD_ALL, Where.AREA, PerCpuOps.Index.MM_CID);
        static final MethodHandle POPALL_TP_CPU = CODE.handle(Primitive.POP_ALL, Where.TP, PerCpuOps.Index.CPU_ID);
        static final MethodHandle POPALL_TP_CID = CODE.handle(Primitive.POP_ALL, Where.TP, PerCpuOps.Index.MM_CID);
        static final MethodHandle POPALL_AREA_CPU = CODE.handle(Primitive.POP_ALL, Where.AREA, PerCpuOps.Index.CPU_ID);
        static final MethodHandle POPALL_AREA_CID = CODE.handle(Primitive.POP_ALL, Where.AREA, PerCpuOps.Index.MM_CID);
        static final MethodHandle PUSHALL_TP_CPU = CODE.handle(Primitive.PUSH_ALL, Where.TP, PerCpuOps.Index.CPU_ID);
        static final MethodHandle PUSHALL_TP_CID = CODE.handle(Primitive.PUSH_ALL, Where.TP, PerCpuOps.Index.MM_CID);
        static final MethodHandle PUSHALL_AREA_CPU = CODE.handle(Primitive.PUSH_ALL, Where.AREA, PerCpuOps.Index.CPU_ID);
        static final MethodHandle PUSHALL_AREA_CID = CODE.handle(Primitive.PUSH_ALL, Where.AREA, PerCpuOps.Index.MM_CID);

        private Shared() {
        }
    }

    /**
     * A critical downcall handle to one function. Build it once and keep it.
     *
     * @return the handle, or null for a tp function of a page generated without {@code __rseq_offset}
     */
    MethodHandle handle(Primitive p, Where w, PerCpuOps.Index i) {
        if (w == Where.TP && config.rseqOffset().isEmpty()) {
            return null;
        }
        return RseqCalls.downcall(MemorySegment.ofAddress(base + asm.offset(name(p, w, i))), p.descriptor(w == Where.AREA), true);
    }

    /** The name of a function: {@code <primitive>_<tp|area>_<cpu|cid>}, also its entry label. */
    static String name(Primitive p, Where w, PerCpuOps.Index i) {
        return p.tag + "_" + w.tag + "_" + (i == PerCpuOps.Index.CPU_ID ? "cpu" : "cid");
    }

    /** The whole page's listing: every instruction's offset, bytes, assembler text and purpose. */
    String listing() {
        return asm.listing();
    }

    /** One function's listing: its descriptor, then its code. */
    String listing(Primitive p, Where w, PerCpuOps.Index i) {
        Span s = spans.get(name(p, w, i));
        if (s == null) {
            throw new IllegalArgumentException("no function " + name(p, w, i) + " in this page");
        }
        return asm.listing(s.descriptorFrom(), s.descriptorTo()) + asm.listing(s.codeFrom(), s.codeTo());
    }

    /** GNU assembler source for the same bytes, at address {@link #base()}. */
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

    Config config() {
        return config;
    }

    /** Bytes mapped for the code (whole pages), 0 when only generated. */
    long mappedLength() {
        return mappedLength;
    }

    /** Whether some conditional jumps are rel32 because a rel8 could not reach (long injected delays). */
    boolean longJumps() {
        return !longJumps.isEmpty();
    }

    /** A label's offset from the first page's start: {@code cas_tp_cpu}, {@code cas_tp_cpu_cs}, ... */
    int offset(String label) {
        return asm.offset(label);
    }

    /** The functions in this page, by name, in page order. */
    List<String> functions() {
        return List.copyOf(spans.keySet());
    }

    /**
     * glibc's {@code __rseq_offset}, where glibc registers threads and the offset fits the code's 32-bit
     * displacements.
     *
     * @return the offset, or empty where the tp functions would be of no use
     */
    static OptionalLong usableGlibcOffset() {
        OptionalLong off = Rseq.glibcOffset();
        if (Rseq.glibcSize() > 0 && off.isPresent() && fitsDisplacement(off.getAsLong())) {
            return off;
        }
        return OptionalLong.empty();
    }

    static boolean fitsDisplacement(long rseqOffset) {
        return rseqOffset >= Integer.MIN_VALUE && rseqOffset + RseqAbi.MIN_LENGTH <= Integer.MAX_VALUE;
    }

    /**
     * The number of CPU ids the kernel may ever report: the highest CPU in
     * {@code /sys/devices/system/cpu/possible}, plus one. It covers CPUs that are offline or not yet
     * plugged in, which {@code _SC_NPROCESSORS_ONLN} would miss, and it bounds mm_cid too.
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

    private List<Where> wheres() {
        return config.rseqOffset().isPresent() ? List.of(Where.TP, Where.AREA) : List.of(Where.AREA);
    }

    private void emit() {
        Map<String, int[]> descriptors = new LinkedHashMap<>();
        for (Primitive p : Primitive.values()) {
            for (Where w : wheres()) {
                for (PerCpuOps.Index i : PerCpuOps.Index.values()) {
                    String f = name(p, w, i);
                    int from = asm.lineCount();
                    descriptor(f);
                    descriptors.put(f, new int[] {from, asm.lineCount()});
                }
            }
        }
        for (Primitive p : Primitive.values()) {
            for (Where w : wheres()) {
                for (PerCpuOps.Index i : PerCpuOps.Index.values()) {
                    String f = name(p, w, i);
                    asm.align(16, 0xcc, "int3 padding");
                    int from = asm.lineCount();
                    new Function(p, w, i).emit();
                    int[] d = descriptors.get(f);
                    spans.put(f, new Span(d[0], d[1], from, asm.lineCount()));
                }
            }
        }
    }

    /**
     * struct rseq_cs, field by field in the order of {@link RseqAbi#STRUCT_RSEQ_CS}: each field is emitted
     * for its name in the layout, and the generator checks that it lands at the layout's offset.
     */
    private void descriptor(String f) {
        asm.align((int) RseqAbi.STRUCT_RSEQ_CS.byteAlignment(), 0xcc, "int3 padding");
        int at = asm.offset(labelHere(f + "_cs", "struct rseq_cs of " + f + ", "
                + RseqAbi.STRUCT_RSEQ_CS.byteAlignment() + "-byte aligned"));
        for (MemoryLayout field : RseqAbi.STRUCT_RSEQ_CS.memberLayouts()) {
            String name = field.name().orElseThrow();
            expectField(at, RseqAbi.csOffset(name));
            switch (name) {
                case "version", "flags" -> asm.op(".long 0", name, 0, 0, 0, 0);
                case "start_ip" -> asm.quad(f + "_start", name);
                case "post_commit_offset" -> asm.quadDifference(f + "_commit", f + "_start", name);
                case "abort_ip" -> asm.quad(f + "_abort", name);
                default -> throw new AssertionError("struct rseq_cs has no field " + name);
            }
        }
        expectField(at, RseqAbi.CS_SIZE);
    }

    private String labelHere(String label, String comment) {
        asm.label(label, comment);
        return label;
    }

    private void expectField(int descriptor, int offset) {
        int here = asm.lineCount() == 0 ? 0 : currentOffset();
        if (here - descriptor != offset) {
            throw new IllegalStateException("struct rseq_cs field at +" + (here - descriptor) + ", layout says +" + offset);
        }
    }

    private int currentOffset() {
        List<X86Asm.Line> l = asm.lines();
        X86Asm.Line last = l.get(l.size() - 1);
        return last.offset() + last.length();
    }

    /** One function: entry, arming, the section, the ways out, the signature and the abort handler. */
    private final class Function {
        private final Primitive p;
        private final Where w;
        private final PerCpuOps.Index index;
        private final String f;
        // Where the area argument is: a register, or a stack slot (8 × n above the return address).
        private final R areaReg;
        private final long areaStack;

        Function(Primitive p, Where w, PerCpuOps.Index index) {
            this.p = p;
            this.w = w;
            this.index = index;
            this.f = name(p, w, index);
            if (w == Where.AREA && p.args() < ARG.length) {
                areaReg = ARG[p.args()];
                areaStack = 0;
            } else if (w == Where.AREA) {
                areaReg = null;
                areaStack = 8L * (p.args() - ARG.length + 1);
            } else {
                areaReg = null;
                areaStack = 0;
            }
        }

        void emit() {
            if (p == Primitive.ADD_ALL) {
                emitAddAll();
                return;
            }
            if (p == Primitive.POP_ALL || p == Primitive.PUSH_ALL) {
                emitStackBulk(p == Primitive.POP_ALL);
                return;
            }
            asm.label(f, signature());
            armAndReadIndex();
            body();
            exits();
        }

        /**
         * The bulk add: for each of n words, load its delta, arm, read the index, add to this CPU's copy (the
         * commit), move on. An abort retries the current word (the registers hold its delta and address); after
         * {@link #ADD_ALL_RESTART_LIMIT} aborts in a row the call returns ABORTED with the words left in the
         * index field, and Java calls again for those.
         */
        private void emitAddAll() {
            asm.label(f, signature());
            op(X86.movImm32(0, R.R9), "r9 = aborts in a row");
            asm.label(f + "_next", "");
            op(X86.load(Mem.at(R.RSI, 0), R.R8), "r8 = *deltas, this word's delta");
            asm.label(f + "_retry", "");
            armAndReadIndex();
            op(X86.addRR(R.RDI, R.R10), "r10 += v: this " + (index == PerCpuOps.Index.CPU_ID ? "CPU" : "mm_cid")
                    + "'s copy of the word");
            delay(3);
            op(X86.addToMem(R.R8, Mem.at(R.R10, 0)), "*r10 += delta: the commit (one instruction)");
            committed(4);
            op(X86.movImm32(0, R.R9), "no abort in a row now");
            op(X86.addImm(8, R.RDI), "v += 8: the next word");
            op(X86.addImm(8, R.RSI), "deltas += 8");
            op(X86.dec(R.RDX), "n -= 1");
            jcc("ne", f + "_next", "more words: the next section");
            clear();
            op(X86.movRR(R.R11, R.RAX), "rax = the index: success");
            op(X86.ret(), "");
            failure("_noslot", NO_SLOT, "NO_SLOT");
            abortHandler();
            op(X86.inc(R.R9), "one more abort in a row");
            op(X86.cmpImm(ADD_ALL_RESTART_LIMIT, R.R9), "below " + ADD_ALL_RESTART_LIMIT + "?");
            jcc("b", f + "_retry", "yes: arm again, the same word");
            leaveFailed(R.RDX, ABORTED, "rax = ~(words left << 8 | ABORTED)");
        }

        /**
         * The bulk pop and push of a linked stack. Per node, one section: arm, read the index, compute this
         * CPU's head; pop: load the head (0: empty, done), write it to {@code *out}, check its next pointer lies
         * in {@code [lo, lo + limit]}, and store that next pointer as the head (the commit); push: load the node
         * from {@code *nodes}, check its next pointer, store the head into it (speculative) and the node as the
         * head (the commit). r9 counts the nodes left; every way out returns it (success: r9, the nodes not
         * taken when the stack ran empty; failure: {@code ~(r9 << 8 | code)}), and an abort returns at once, so
         * that Java calls again for the nodes left.
         */
        private void emitStackBulk(boolean pop) {
            asm.label(f, signature());
            op(X86.testRR(R.R9, R.R9), "any node to " + (pop ? "pop" : "push") + "?");
            jcc("e", f + "_done", "no: done");
            asm.label(f + "_next", "");
            armAndReadIndex();
            op(X86.addRR(R.RDI, R.R10), "r10 = this " + (index == PerCpuOps.Index.CPU_ID ? "CPU" : "mm_cid")
                    + "'s head");
            delay(3);
            if (pop) {
                op(X86.load(Mem.at(R.R10, 0), R.RAX), "rax = the head");
                op(X86.testRR(R.RAX, R.RAX), "empty?");
                jcc("e", f + "_done", "yes: done, r9 nodes not taken");
                delayKeeping(4);
                op(X86.store(R.RAX, Mem.at(R.R8, 0)), "*out = the head (the caller's memory)");
                op(X86.movRR(R.RAX, R.R11), "r11 = the head");
                op(X86.addRR(R.RSI, R.R11), "r11 += offset, its next pointer");
                requireInRegion(R.R11, R.RDX, "lo", X86.cmpRR(R.RCX, R.R11), "within [lo, lo + limit]? (unsigned)");
                op(X86.load(Mem.at(R.RAX, R.RSI, 0), R.R11), "r11 = head->next");
                op(X86.store(R.R11, Mem.at(R.R10, 0)), "the head = head->next: the commit");
            } else {
                op(X86.load(Mem.at(R.RSI, 0), R.R11), "r11 = *nodes, the node to push");
                op(X86.movRR(R.R11, R.RAX), "rax = the node");
                op(X86.addRR(R.RDX, R.RAX), "rax += offset, its next pointer");
                requireInRegion(R.RAX, R.RCX, "lo", X86.cmpRR(R.R8, R.RAX), "within [lo, lo + limit]? (unsigned)");
                op(X86.load(Mem.at(R.R10, 0), R.RAX), "rax = the head");
                delayKeeping(4);
                op(X86.store(R.RAX, Mem.at(R.R11, R.RDX, 0)), "node->next = the head (speculative)");
                op(X86.store(R.R11, Mem.at(R.R10, 0)), "the head = the node: the commit");
            }
            committed(5);
            op(X86.addImm(8, pop ? R.R8 : R.RSI), pop ? "out += 8" : "nodes += 8");
            op(X86.dec(R.R9), "one node fewer");
            jcc("ne", f + "_next", "more: the next section");
            asm.label(f + "_done", "");
            clear();
            op(X86.movRR(R.R9, R.RAX), "rax = the nodes left: success");
            op(X86.ret(), "");
            bulkFailure("_noslot", NO_SLOT, "NO_SLOT");
            bulkFailure("_bad", BAD_POINTER, "BAD_POINTER");
            abortHandler();
            leaveFailed(R.R9, ABORTED, "rax = ~(nodes left << 8 | ABORTED): Java calls again");
        }

        private void bulkFailure(String suffix, int code, String name) {
            asm.label(f + suffix, "");
            leaveFailed(R.R9, code, "rax = ~(nodes left << 8 | " + name + ")");
        }

        private String signature() {
            StringBuilder sb = new StringBuilder("long " + f + "(");
            for (int k = 0; k < p.args(); k++) {
                sb.append(k == 0 ? "" : ", ").append(p.params[k]).append(" = ")
                        .append(k < ARG.length ? ARG[k].q().substring(1) : 8 * (k - ARG.length + 1) + "(rsp)");
            }
            if (w == Where.AREA) {
                sb.append(", area = ").append(areaReg != null ? areaReg.q().substring(1) : areaStack + "(rsp)");
            }
            return sb.append(")").toString();
        }

        private void body() {
            switch (p) {
                case COMPARE_AND_STORE -> {
                    perCpu(R.RDI, "v");
                    delay(3);
                    expectEqual(R.RSI, R.RDI, "*v == expect?");
                    delay(4);
                    op(X86.store(R.RDX, Mem.at(R.RDI, 0)), "*v = newv: the commit");
                    committed(5);
                }
                case ADD -> {
                    perCpu(R.RDI, "v");
                    delay(3);
                    op(X86.addToMem(R.RSI, Mem.at(R.RDI, 0)), "*v += count: the commit (one instruction)");
                    committed(4);
                }
                case TAKE_AND_FOLLOW -> {
                    perCpu(R.RDI, "v");
                    delay(3);
                    op(X86.load(Mem.at(R.RDI, 0), R.R10), "r10 = *v, the pointer to take");
                    op(X86.cmpRR(R.RSI, R.R10), "r10 == expectnot?");
                    jcc("e", f + "_fail", "yes: nothing to take (comparison failed)");
                    delay(4);
                    op(X86.movRR(R.R10, R.RAX), "rax = r10");
                    op(X86.addRR(R.RDX, R.RAX), "rax = r10 + offset, the word to follow");
                    requireInRegion(R.RAX, R.RCX, "lo", X86.cmpRR(R.R8, R.RAX), "within [lo, lo + limit]? (unsigned)");
                    op(X86.load(Mem.at(R.R10, R.RDX, 0), R.RAX), "rax = *(r10 + offset)");
                    op(X86.store(R.RAX, Mem.at(R.RDI, 0)), "*v = rax: the commit");
                    committed(5);
                }
                case PUSH_LINK -> {
                    perCpu(R.RDI, "v");
                    delay(3);
                    op(X86.movRR(R.RSI, R.RAX), "rax = the node");
                    op(X86.addRR(R.RDX, R.RAX), "rax += offset, its next pointer");
                    requireInRegion(R.RAX, R.RCX, "lo", X86.cmpRR(R.R8, R.RAX), "within [lo, lo + limit]? (unsigned)");
                    op(X86.load(Mem.at(R.RDI, 0), R.R10), "r10 = *v, the head");
                    delay(4);
                    op(X86.store(R.R10, Mem.at(R.RSI, R.RDX, 0)), "node->next = the head (speculative)");
                    op(X86.store(R.RSI, Mem.at(R.RDI, 0)), "*v = the node: the commit");
                    committed(5);
                }
                case ADD_INDIRECT -> {
                    delay(3);
                    op(X86.addFromMem(Mem.at(R.RDI, 0), R.R10), "r10 += *ptr");
                    op(X86.addRR(R.RSI, R.R10), "r10 += off: r1");
                    op(X86.movRR(R.R10, R.RAX), "rax = r1");
                    requireInRegion(R.RAX, R.RCX, "lo1", X86.cmpRR(R.R8, R.RAX),
                            "r1 within [lo1, lo1 + limit1]? (unsigned)");
                    // Not a librseq point: widens the window between following the shared pointer and the commit,
                    // the race the membarrier test is about.
                    delay(5);
                    op(X86.load(Mem.at(R.R10, 0), R.R10), "r10 = *r1: r2");
                    op(X86.movRR(R.R10, R.RAX), "rax = r2");
                    requireInRegion(R.RAX, R.R9, "lo2", X86.cmpFromMem(Mem.at(R.RSP, 8), R.RAX),
                            "r2 within [lo2, lo2 + limit2]? (unsigned)");
                    op(X86.addToMem(R.RDX, Mem.at(R.R10, 0)), "*r2 += inc: the commit");
                    committed(4);
                }
                case COMPARE_BOTH_AND_STORE -> {
                    perCpu(R.RDI, "v");
                    perCpu(R.RDX, "v2");
                    delay(3);
                    expectEqual(R.RSI, R.RDI, "*v == expect?");
                    delay(4);
                    expectEqual(R.RCX, R.RDX, "*v2 == expect2?");
                    delay(5);
                    op(X86.store(R.R8, Mem.at(R.RDI, 0)), "*v = newv: the commit");
                    committed(6);
                }
                case COMPARE_STORE_AND_STORE -> {
                    perCpu(R.RDI, "v");
                    perCpu(R.RDX, "v2");
                    delay(3);
                    expectEqual(R.RSI, R.RDI, "*v == expect?");
                    delay(4);
                    op(X86.store(R.RCX, Mem.at(R.RDX, 0)), "*v2 = newv2: speculative, seen only after the commit");
                    delay(5);
                    op(X86.store(R.R8, Mem.at(R.RDI, 0)), "*v = newv: the commit (a store: release on x86-TSO)");
                    committed(6);
                }
                case COMPARE_COPY_IN_AND_STORE, COMPARE_COPY_OUT_AND_STORE -> {
                    boolean in = p == Primitive.COMPARE_COPY_IN_AND_STORE;
                    perCpu(R.RDI, "v");
                    perCpu(in ? R.RDX : R.RCX, in ? "dst" : "src");
                    delay(3);
                    expectEqual(R.RSI, R.RDI, "*v == expect?");
                    delay(4);
                    copy();
                    delay(5);
                    op(X86.store(R.R9, Mem.at(R.RDI, 0)), "*v = newv: the commit (a store: release on x86-TSO)");
                    committed(6);
                }
                default -> throw new AssertionError(p);
            }
        }

        /** memcpy(dst = rdx, src = rcx, len = r8): 8 bytes at a time, then the rest byte by byte; r10 temporary. */
        private void copy() {
            op(X86.cmpImm(8, R.R8), "len >= 8?");
            jcc("b", f + "_bytes", "no: bytes only");
            asm.label(f + "_words", "");
            op(X86.load(Mem.at(R.RCX, 0), R.R10), "copy 8 bytes");
            op(X86.store(R.R10, Mem.at(R.RDX, 0)), "");
            op(X86.addImm(8, R.RCX), "src += 8");
            op(X86.addImm(8, R.RDX), "dst += 8");
            op(X86.subImm(8, R.R8), "len -= 8");
            op(X86.cmpImm(8, R.R8), "");
            jcc("ae", f + "_words", "8 or more left: again");
            asm.label(f + "_bytes", "");
            op(X86.testRR(R.R8, R.R8), "any left?");
            jcc("e", f + "_copied", "no: copied");
            asm.label(f + "_byte", "");
            op(X86.loadByte(Mem.at(R.RCX, 0), R.R10), "copy 1 byte");
            op(X86.storeByte(R.R10, Mem.at(R.RDX, 0)), "");
            op(X86.inc(R.RCX), "src += 1");
            op(X86.inc(R.RDX), "dst += 1");
            op(X86.dec(R.R8), "len -= 1");
            jcc("ne", f + "_byte", "more: again");
            asm.label(f + "_copied", "");
        }

        private void perCpu(R reg, String what) {
            op(X86.addRR(R.R10, reg), what + " += r10: this " + (index == PerCpuOps.Index.CPU_ID ? "CPU" : "mm_cid")
                    + "'s copy");
        }

        /** After the commit label: success, the failures, the signature and the abort handler. */
        private void exits() {
            clear();
            if (p == Primitive.TAKE_AND_FOLLOW) {
                op(X86.movRR(R.R10, R.RAX), "rax = the pointer taken: success");
            } else {
                op(X86.movRR(R.R11, R.RAX), "rax = the index: success");
            }
            op(X86.ret(), "");
            if (p != Primitive.ADD && p != Primitive.ADD_INDIRECT && p != Primitive.PUSH_LINK) {
                failure("_fail", CMP_FAILED, "CMP_FAILED");
            }
            failure("_noslot", NO_SLOT, "NO_SLOT");
            if (p == Primitive.TAKE_AND_FOLLOW || p == Primitive.ADD_INDIRECT || p == Primitive.PUSH_LINK) {
                failure("_bad", BAD_POINTER, "BAD_POINTER");
            }
            abortHandler();
            clear();
            op(X86.movImm(~(long) ABORTED, R.RAX), "rax = ~ABORTED: Java calls again");
            op(X86.ret(), "");
        }

        private void failure(String suffix, int code, String name) {
            asm.label(f + suffix, "");
            leaveFailed(R.R11, code, "rax = ~(index << 8 | " + name + ")");
        }

        /** Returns {@code ~(count << 8 | code)}, the count taken from {@code from}, having disarmed where needed. */
        private void leaveFailed(R from, int code, String comment) {
            clear();
            op(X86.movRR(from, R.RAX), "");
            op(X86.shlImm(8, R.RAX), "");
            op(X86.orImm(code, R.RAX), "");
            op(X86.not(R.RAX), comment);
            op(X86.ret(), "");
        }

        /**
         * Arms the section and reads its index, the start of every section: r11 = cpu_id (or mm_cid), r10 = the
         * offset of its copy; an index without a slot jumps to {@code _noslot}. An area argument that came on the
         * stack is loaded into r11 first, because {@link #area(int)} addresses the fields through it.
         */
        private void armAndReadIndex() {
            if (areaStack != 0) {
                op(X86.load(Mem.at(R.RSP, areaStack), R.R11), "r11 = area (argument " + (p.args() + 1) + ", on the stack)");
            }
            delay(1);
            asm.rel32("lea " + f + "_cs(%rip),%rax", "rax = address of " + f + "_cs", f + "_cs", X86.leaRipOpcode(R.RAX));
            op(X86.store(R.RAX, area(RseqAbi.RSEQ_CS)), "rseq_cs = " + f + "_cs (at " + areaText(RseqAbi.RSEQ_CS) + "): armed");
            asm.label(f + "_start", "start_ip");
            delay(2);
            String field = index == PerCpuOps.Index.CPU_ID ? "cpu_id" : "mm_cid";
            int fieldOffset = index == PerCpuOps.Index.CPU_ID ? RseqAbi.CPU_ID : RseqAbi.MM_CID;
            op(X86.load32(area(fieldOffset), R.R11), "r11 = " + field + " (at " + areaText(fieldOffset) + ")");
            op(X86.cmpImm32(config.slots(), R.R11), field + " below slots? (unsigned: -1, -2 fail)");
            jcc("ae", f + "_noslot", "no slot: leave, touch nothing");
            op(X86.movRR32(R.R11, R.R10), "r10 = " + field);
            op(X86.shlImm(config.shift(), R.R10), "r10 = " + field + " * " + config.stride() + ", the copy's offset");
        }

        /** Fails the section ({@code _fail}) unless the word {@code at} points to holds {@code expected}. */
        private void expectEqual(R expected, R at, String question) {
            op(X86.cmpMem(expected, Mem.at(at, 0)), question);
            jcc("ne", f + "_fail", "no: comparison failed");
        }

        /**
         * Leaves through {@code _bad}, touching nothing, unless {@code reg} lies in the region from {@code lo}:
         * {@code reg -= lo}, then {@code compareLimit} (against the region's limit) decides, unsigned, so that an
         * address below {@code lo} fails too.
         */
        private void requireInRegion(R reg, R lo, String loName, Insn compareLimit, String question) {
            op(X86.subRR(lo, reg), reg.q().substring(1) + " -= " + loName);
            op(compareLimit, question);
            jcc("a", f + "_bad", "no: leave, touch nothing");
        }

        /** The end of a section's critical part (post_commit_ip), then the injection point that follows it. */
        private void committed(int delayPoint) {
            asm.label(f + "_commit", "post_commit_ip = start_ip + post_commit_offset");
            delay(delayPoint);
        }

        /**
         * The signature the kernel checks before it jumps to abort_ip (the four bytes before it), then the abort
         * label: what follows runs when the kernel aborts the section.
         */
        private void abortHandler() {
            asm.op(".byte 0x0f,0xb9,0x3d", "ud1 opcode, ModRM: traps if run;", 0x0f, 0xb9, 0x3d);
            asm.op(".long " + X86.hex(RseqAbi.SIGNATURE_X86_64), "  its disp32 is RSEQ_SIG",
                    X86Asm.le32(RseqAbi.SIGNATURE_X86_64));
            asm.label(f + "_abort", "abort_ip: the kernel resumes here");
        }

        /** Stores 0 into rseq_cs, for pages that may be unmapped. */
        private void clear() {
            if (!config.clearRseqCs()) {
                return;
            }
            if (areaStack != 0) {
                op(X86.load(Mem.at(R.RSP, areaStack), R.R10), "r10 = area again");
                op(X86.storeImm(0, Mem.at(R.R10, RseqAbi.RSEQ_CS)), "rseq_cs = 0: nothing points into this page");
            } else {
                op(X86.storeImm(0, area(RseqAbi.RSEQ_CS)), "rseq_cs = 0: nothing points into this page");
            }
        }

        /** A field of struct rseq: fs-relative for tp, register-relative for area (r11 when it came on the stack). */
        private Mem area(int fieldOffset) {
            if (w == Where.TP) {
                return Mem.fs(config.rseqOffset().getAsLong() + fieldOffset);
            }
            return Mem.at(areaReg != null ? areaReg : R.R11, fieldOffset);
        }

        private String areaText(int fieldOffset) {
            return w == Where.TP ? "tp + __rseq_offset + " + fieldOffset : "area + " + fieldOffset;
        }

        /**
         * An injected delay where rax holds the head the bulk pop or push just loaded and no other register is
         * free: the head waits in the red zone (the 128 bytes below rsp that a leaf function may use and that
         * signal delivery skips) while the loop counts in eax.
         */
        private void delayKeeping(int point) {
            int n = config.delays().loops(point);
            if (n == 0) {
                return;
            }
            op(X86.store(R.RAX, Mem.at(R.RSP, -8)), "keep the head in the red zone during the delay");
            delay(point);
            op(X86.load(Mem.at(R.RSP, -8), R.RAX), "rax = the head again");
        }

        private void delay(int point) {
            int n = config.delays().loops(point);
            if (n == 0) {
                return;
            }
            op(X86.movImm32(n, R.RAX), "injected delay " + point + ": " + n + " loops");
            asm.label(f + "_delay" + point, "");
            op(X86.dec32(R.RAX), "");
            jcc("ne", f + "_delay" + point, "");
        }

        private void jcc(String cond, String target, String comment) {
            int cc = switch (cond) {
                case "b" -> 0x2;
                case "ae" -> 0x3;
                case "e" -> 0x4;
                case "ne" -> 0x5;
                case "a" -> 0x7;
                default -> throw new IllegalArgumentException(cond);
            };
            String text = "j" + cond + " " + target;
            if (longJumps.contains(asm.lineCount())) {
                asm.rel32(text, comment, target, 0x0f, 0x80 | cc);
            } else {
                asm.rel8(text, comment, target, 0x70 | cc);
            }
        }

        private void op(Insn insn, String comment) {
            asm.op(insn.text(), comment, insn.bytes());
        }
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "RseqCode[0x%x, %d bytes, %s, %d slots, stride %d, %s%s]", base, bytes.length,
                config.rseqOffset().isPresent() ? "__rseq_offset " + config.rseqOffset().getAsLong() : "no tp functions",
                config.slots(), config.stride(), config.delays(), config.clearRseqCs() ? ", clears rseq_cs" : "");
    }
}
