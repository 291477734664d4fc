package dev.pkrseq.observe;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import dev.pkrseq.sys.Sys;
import dev.pkrseq.sys.Syscall;

/**
 * A busy loop in native code, for workers that must want a CPU all the time without holding up the JVM.
 *
 * <p>A busy loop in Java holds up every safepoint and every handshake of the JVM (a deoptimization, a
 * garbage collection, the last one at exit) until the scheduler runs each looping thread again and it
 * reaches a poll. With N such threads on few CPUs that is a scheduling round of all of them per
 * operation: seconds at a thousand threads on two CPUs, during which the JVM answers nothing. A thread
 * inside a native call counts as stopped for all of those. So a worker calls {@code wait_then_spin} once,
 * through an ordinary (non-critical) downcall, and stays in native code from the moment it is ready
 * until it is told to stop: it first sleeps in {@code futex(FUTEX_WAIT)} until {@code *go} is set (no
 * CPU, and no Java code between the wait and the loop, where a worker could be caught by a safepoint),
 * then spins until {@code *stop} is set. One {@code FUTEX_WAKE} ({@link Sys#futexWake}) starts them all;
 * clearing {@code *go} again ({@link #hold}) sends them back to sleep, for a JVM about to exit that needs
 * its CPUs.
 *
 * <pre>
 * 0000                      void wait_then_spin(int *go = rdi, int *stop = rsi)
 * 0000  49 89 f0            mov %rsi,%r8           r8 = stop (the system call needs rsi; it keeps r8)
 * 0003                  wait:
 * 0003  8b 07               mov (%rdi),%eax        eax = *go
 * 0005  85 c0               test %eax,%eax
 * 0007  75 13               jne spin               set: spin
 * 0009  b8 ca 00 00 00      mov $202,%eax          SYS_futex
 * 000e  be 80 00 00 00      mov $128,%esi          FUTEX_WAIT_PRIVATE
 * 0013  31 d2               xor %edx,%edx          sleep while *go is 0
 * 0015  45 31 d2            xor %r10d,%r10d        no timeout
 * 0018  0f 05               syscall                back at a wake-up, a signal, or at once if *go is set
 * 001a  eb e7               jmp wait               look again
 * 001c                  spin:
 * 001c  f3 90               pause                  a spin-wait loop, says the hint
 * 001e  41 8b 00            mov (%r8),%eax         eax = *stop
 * 0021  85 c0               test %eax,%eax
 * 0023  75 08               jne done               set: return
 * 0025  8b 07               mov (%rdi),%eax        eax = *go
 * 0027  85 c0               test %eax,%eax
 * 0029  75 f1               jne spin               still set: spin on
 * 002b  eb d6               jmp wait               cleared: sleep again
 * 002d                  done:
 * 002d  c3                  ret
 * </pre>
 *
 * <p>The code lives in a page of its own, mapped read-write, filled, then made read-execute on first
 * use, and never unmapped: a thread may still be inside it when its owner is gone.
 */
final class NativeSpin {
    private static final int FUTEX_WAIT_PRIVATE = 128;
    /** {@code SYS_futex} in x86_64's table, which is the only one this code is for. */
    private static final int SYS_FUTEX_X86_64 = 202;

    /** The code above, byte for byte. */
    static final byte[] CODE = bytes(
            0x49, 0x89, 0xf0,
            0x8b, 0x07,
            0x85, 0xc0,
            0x75, 0x13,
            0xb8, SYS_FUTEX_X86_64, 0x00, 0x00, 0x00,
            0xbe, FUTEX_WAIT_PRIVATE, 0x00, 0x00, 0x00,
            0x31, 0xd2,
            0x45, 0x31, 0xd2,
            0x0f, 0x05,
            0xeb, 0xe7,
            0xf3, 0x90,
            0x41, 0x8b, 0x00,
            0x85, 0xc0,
            0x75, 0x08,
            0x8b, 0x07,
            0x85, 0xc0,
            0x75, 0xf1,
            0xeb, 0xd6,
            0xc3);

    /** The same code as GNU assembler source, for the test that assembles it. */
    static final String SOURCE = """
                    .text
                    mov %rsi,%r8
            wait:
                    mov (%rdi),%eax
                    test %eax,%eax
                    jne spin
                    mov $202,%eax
                    mov $128,%esi
                    xor %edx,%edx
                    xor %r10d,%r10d
                    syscall
                    jmp wait
            spin:
                    pause
                    mov (%r8),%eax
                    test %eax,%eax
                    jne done
                    mov (%rdi),%eax
                    test %eax,%eax
                    jne spin
                    jmp wait
            done:
                    ret
            """;

    private static final VarHandle FLAG = JAVA_INT.varHandle();

    private NativeSpin() {
    }

    private static byte[] bytes(int... values) {
        byte[] b = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            b[i] = (byte) values[i];
        }
        return b;
    }

    /** The code page, mapped on first use. */
    private static final class Page {
        static final MethodHandle WAIT_THEN_SPIN = map();

        private Page() {
        }

        private static MethodHandle map() {
            long page = Sys.pageSize();
            long address = Sys.mmap(0, page, Sys.PROT_READ | Sys.PROT_WRITE, Sys.MAP_PRIVATE | Sys.MAP_ANONYMOUS, -1, 0);
            try {
                MemorySegment mem = Sys.memory(address, page);
                mem.fill((byte) 0xcc);
                MemorySegment.copy(CODE, 0, mem, JAVA_BYTE, 0, CODE.length);
                Sys.mprotect(address, page, Sys.PROT_READ | Sys.PROT_EXEC);
            } catch (RuntimeException | Error e) {
                // Nothing has run from the page yet.
                Sys.munmap(address, page);
                throw e;
            }
            // Not critical: the thread must be "in native" while it waits and spins.
            return Sys.downcall(MemorySegment.ofAddress(address), FunctionDescriptor.ofVoid(ADDRESS, ADDRESS), false);
        }
    }

    /**
     * Whether the code can run here.
     *
     * @return true on x86_64
     */
    static boolean available() {
        return Syscall.architectureSupported();
    }

    /** Maps the code page now, so that the first worker does not. */
    static void prepare() {
        if (Page.WAIT_THEN_SPIN == null) {
            throw new AssertionError();
        }
    }

    /**
     * A flag for {@link #waitThenSpin}, zero.
     *
     * @return 4 bytes of native memory, freed once unreachable (a thread in the code keeps it reachable)
     */
    static MemorySegment newFlag() {
        return Arena.ofAuto().allocate(JAVA_INT);
    }

    /**
     * Sleeps until {@code go} is set, then spins until {@code stop} is set, all in native code.
     *
     * @param go from {@link #newFlag()}; set it with {@link #set(MemorySegment)} and wake the sleepers
     * @param stop from {@link #newFlag()}
     */
    static void waitThenSpin(MemorySegment go, MemorySegment stop) {
        try {
            Page.WAIT_THEN_SPIN.invokeExact(go, stop);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError("the spin code cannot throw", t);
        }
    }

    /**
     * Sets a flag.
     *
     * @param flag from {@link #newFlag()}
     */
    static void set(MemorySegment flag) {
        FLAG.setVolatile(flag, 0L, 1);
    }

    /**
     * Clears {@code go}: every spinner goes back to sleep in the kernel once it next runs (a few
     * instructions each, so all are asleep within a scheduling round of microseconds).
     *
     * @param go from {@link #newFlag()}
     */
    static void hold(MemorySegment go) {
        FLAG.setVolatile(go, 0L, 0);
    }

    /**
     * Sets {@code go} and wakes every thread sleeping on it.
     *
     * @param go from {@link #newFlag()}
     */
    static void release(MemorySegment go) {
        set(go);
        Sys.futexWake(go, Integer.MAX_VALUE);
    }
}
