package dev.pkrseq.rseq;

import java.lang.foreign.MemorySegment;

import dev.pkrseq.sys.MemoryCalls;

/**
 * The broken twin of {@link PerCpuOps}, for tests only: the same generated code, instruction for
 * instruction, with the store that arms each section ({@code rseq_cs = <descriptor>}) overwritten by
 * {@code nop}s. The kernel then never aborts a section, so a thread preempted, migrated or signalled
 * between its read of the CPU and its commit goes on with stale data: exactly the failure the critical
 * sections exist to prevent, which the param tests must be able to see.
 */
public final class RacyOps {
    private RacyOps() {
    }

    /**
     * Primitives without rseq protection.
     *
     * @param index cpu_id or mm_cid
     * @param delays injected delays, to widen the windows as in the real runs
     * @param beforeEachSection run before each call (param_test's point 9), or null
     * @return the operations
     */
    public static PerCpuOps of(PerCpuOps.Index index, DelayInjection delays, Runnable beforeEachSection) {
        RseqCode code = RseqCode.map(new RseqCode.Config(PerCpuOps.DEFAULT_STRIDE, RseqCode.possibleCpus(),
                RseqCode.usableGlibcOffset(), delays, true));
        long base = code.base();
        long length = code.mappedLength();
        MemorySegment page = MemoryCalls.memory(base, length);
        int disarmed = 0;
        // Nothing has run from the page yet: it may be written once more (never writable and executable at once).
        MemoryCalls.mprotect(base, length, MemoryCalls.PROT_READ | MemoryCalls.PROT_WRITE);
        try {
            for (X86Asm.Line l : code.lines()) {
                if (!l.label() && l.comment().endsWith(": armed")) {
                    page.asSlice(l.offset(), l.length()).fill((byte) 0x90);
                    disarmed++;
                }
            }
        } finally {
            MemoryCalls.mprotect(base, length, MemoryCalls.PROT_READ | MemoryCalls.PROT_EXEC);
        }
        if (disarmed != code.functions().size()) {
            throw new IllegalStateException("disarmed " + disarmed + " of " + code.functions().size() + " functions");
        }
        return PerCpuOps.over(index, code, beforeEachSection);
    }
}
