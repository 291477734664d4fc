package dev.pkrseq.rseq;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import dev.pkrseq.lab.rseq.PerCpuStress;
import dev.pkrseq.sys.MemoryCalls;
import dev.pkrseq.sys.RseqCalls;

/**
 * The broken variant, for the failure test only: the same per-CPU read-modify-write as the generated
 * critical section (cpu_id through the fs segment, the same 128-byte slots, the same injected delay
 * between the load and the store), but with no {@code rseq_cs} store, so the kernel never restarts it.
 * A thread preempted or migrated between its load and its store writes back a stale value.
 *
 * <pre>
 *   mov %fs:(__rseq_offset + 4),%ecx   cpu_id
 *   cmp $slots,%ecx ; jae fail
 *   shl $7,%rcx
 *   mov (%rdi,%rcx,1),%r8               load the slot
 *   mov $delay,%r9d ; 1: dec %r9d ; jnz 1b
 *   add %rsi,%r8
 *   mov %r8,(%rdi,%rcx,1)               store: no commit, just a store
 *   xor %eax,%eax ; ret
 * fail:
 *   mov $1,%eax ; ret
 * </pre>
 */
final class RacyPerCpuAdd implements PerCpuStress.Target, AutoCloseable {
    /** Bytes between two slots: two cache lines, so that the adjacent-line prefetcher does not pair them. */
    static final int SLOT_BYTES = 128;
    private final long page;
    private final MethodHandle add;
    private final MemorySegment slots;
    private final int slotCount;

    RacyPerCpuAdd(long rseqOffset, int slotCount, int delayLoops) {
        this.slotCount = slotCount;
        X86Asm a = new X86Asm(0);
        a.label("racy_entry", "");
        a.op("mov %fs:" + (rseqOffset + 4) + ",%ecx", "", X86Asm.cat(new int[] {0x64, 0x8b, 0x0c, 0x25},
                X86Asm.le32(rseqOffset + RseqAbi.CPU_ID)));
        a.op("cmp $" + slotCount + ",%ecx", "", X86Asm.cat(new int[] {0x81, 0xf9}, X86Asm.le32(slotCount)));
        a.rel8("jae racy_fail", "", "racy_fail", 0x73);
        a.op("shl $7,%rcx", "", 0x48, 0xc1, 0xe1, 0x07);
        a.op("mov (%rdi,%rcx,1),%r8", "", 0x4c, 0x8b, 0x04, 0x0f);
        a.op("mov $" + delayLoops + ",%r9d", "", X86Asm.cat(new int[] {0x41, 0xb9}, X86Asm.le32(delayLoops)));
        a.label("racy_delay", "");
        a.op("dec %r9d", "", 0x41, 0xff, 0xc9);
        a.rel8("jnz racy_delay", "", "racy_delay", 0x75);
        a.op("add %rsi,%r8", "", 0x49, 0x01, 0xf0);
        a.op("mov %r8,(%rdi,%rcx,1)", "", 0x4c, 0x89, 0x04, 0x0f);
        a.op("xor %eax,%eax", "", 0x31, 0xc0);
        a.op("ret", "", 0xc3);
        a.label("racy_fail", "");
        a.op("mov $1,%eax", "", 0xb8, 0x01, 0x00, 0x00, 0x00);
        a.op("ret", "", 0xc3);
        byte[] code = a.assemble();
        long size = MemoryCalls.pageSize();
        page = MemoryCalls.mmap(0, size, MemoryCalls.PROT_READ | MemoryCalls.PROT_WRITE, MemoryCalls.MAP_PRIVATE | MemoryCalls.MAP_ANONYMOUS, -1, 0);
        MemorySegment mem = MemoryCalls.memory(page, size);
        mem.fill((byte) 0xcc);
        MemorySegment.copy(code, 0, mem, JAVA_BYTE, 0, code.length);
        MemoryCalls.mprotect(page, size, MemoryCalls.PROT_READ | MemoryCalls.PROT_EXEC);
        add = RseqCalls.downcall(MemorySegment.ofAddress(page), FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG), true);
        slots = Arena.ofAuto().allocate((long) slotCount * SLOT_BYTES, SLOT_BYTES);
    }

    @Override
    public void increment() {
        long r;
        try {
            r = (long) add.invokeExact(slots.address(), 1L);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        if (r != 0) {
            throw new IllegalStateException("cpu_id has no slot");
        }
    }

    @Override
    public long sum() {
        long s = 0;
        for (int i = 0; i < slotCount; i++) {
            s += slots.get(JAVA_LONG, (long) i * SLOT_BYTES);
        }
        return s;
    }

    @Override
    public long restarts() {
        return 0;
    }

    /** Unmaps the code: it never armed rseq_cs, so no thread's struct rseq points into it. */
    @Override
    public void close() {
        MemoryCalls.munmap(page, MemoryCalls.pageSize());
    }
}
