package dev.pkrseq.sys;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.pkrseq.NativeException;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.BitSet;

/**
 * Scheduling, threads and signals: sched_*, getcpu, futex, gettid, getpid, tgkill, pthread_self, the
 * thread's stack and its signal mask.
 */
public final class ThreadCalls {
    /**
     * pthread_sigmask(3)'s {@code how}: {@code SIG_BLOCK} adds the set to the blocked signals,
     * {@code SIG_UNBLOCK} removes it, {@code SIG_SETMASK} makes it the blocked signals.
     */
    public static final int SIG_BLOCK = 0, SIG_UNBLOCK = 1, SIG_SETMASK = 2;
    /**
     * {@code SCHED_IDLE}: the lowest scheduling policy, below nice 19; a thread of this policy runs only
     * where no other thread of its CPU wants to, in effect, and any thread may take it for itself.
     */
    public static final int SCHED_IDLE = 5;
    /**
     * The synchronous signals, which the faulting instruction raises: {@code SIGILL} (illegal instruction),
     * {@code SIGTRAP} (trace or breakpoint trap), {@code SIGBUS} (bus error, for example a truncated mapped
     * file), {@code SIGFPE} (HotSpot's implicit division-by-zero check on x86), {@code SIGSEGV} (HotSpot's
     * safepoint polls and implicit null checks; pkey faults) and {@code SIGSYS} (bad system call: seccomp).
     */
    public static final int SIGILL = 4, SIGTRAP = 5, SIGBUS = 7, SIGFPE = 8, SIGSEGV = 11, SIGSYS = 31;
    /** {@code SIGUSR2}: HotSpot's suspend/resume signal on Linux. */
    public static final int SIGUSR2 = 12;
    /**
     * futex(2)'s {@code FUTEX_WAKE_OP} and {@code FUTEX_PRIVATE_FLAG} (the word is private to this process:
     * no page lookup), and the {@code FUTEX_OP_ADD} operation and {@code FUTEX_OP_CMP_EQ} comparison a
     * FUTEX_WAKE_OP encodes.
     */
    public static final int FUTEX_WAKE_OP = 5, FUTEX_PRIVATE_FLAG = 128, FUTEX_OP_ADD = 1, FUTEX_OP_CMP_EQ = 0;

    private static final int FUTEX_WAKE_PRIVATE = 129;
    /** sizeof(sigset_t) in glibc: 1024 bits, of which the kernel uses the first 64. */
    private static final long SIGSET_SIZE = 128;
    /** sizeof(pthread_attr_t) is 56 on x86_64 and 64 on arm64; the scratch buffer reserves 128. */
    private static final long PTHREAD_ATTR_SPACE = 128;
    /** Bytes of the CPU mask passed to sched_{get,set}affinity: the whole scratch buffer. */
    private static final long CPU_MASK_SIZE = Native.SCRATCH_SIZE;

    private static final MethodHandle SCHED_GETCPU = Native.critical("sched_getcpu", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle SCHED_GETCPU_ERRNO = Native.errno("sched_getcpu", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle SCHED_GETAFFINITY = Native.errno("sched_getaffinity",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS));
    private static final MethodHandle SCHED_SETAFFINITY = Native.errno("sched_setaffinity",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS));
    private static final MethodHandle SCHED_YIELD = Native.errno("sched_yield", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle SCHED_SETSCHEDULER = Native.errno("sched_setscheduler",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle GETTID = Native.critical("gettid", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle GETPID = Native.critical("getpid", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle PTHREAD_SELF = Native.critical("pthread_self", FunctionDescriptor.of(JAVA_LONG));
    // pthread functions return the error number instead of setting errno: no capture.
    private static final MethodHandle PTHREAD_GETATTR_NP = Native.plain("pthread_getattr_np",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS));
    private static final MethodHandle PTHREAD_ATTR_GETSTACK = Native.plain("pthread_attr_getstack",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    private static final MethodHandle PTHREAD_ATTR_DESTROY = Native.plain("pthread_attr_destroy",
            FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle PTHREAD_SIGMASK = Native.plain("pthread_sigmask",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));

    private static final Native.Critical GETCPU_CALL = (cap, unused, unused2) -> cap == null
            ? (int) SCHED_GETCPU.invokeExact() : (int) SCHED_GETCPU_ERRNO.invokeExact(cap);
    private static final Native.IntArgs NO_ARGS = (unused, unused2) -> "";

    private ThreadCalls() {
    }

    /**
     * glibc's {@code sched_getcpu()}: a critical downcall. glibc 2.35+ answers from the thread's rseq
     * area, older ones from the vDSO.
     *
     * @return the CPU the thread ran on during the call
     * @see <a href="https://man7.org/linux/man-pages/man3/sched_getcpu.3.html">sched_getcpu(3)</a>
     */
    public static int schedGetcpu() {
        return Native.critical("sched_getcpu", NO_ARGS, GETCPU_CALL, 0, 0);
    }

    /**
     * The {@code getcpu(2)} system call itself, bypassing glibc, rseq and the vDSO.
     *
     * @return the CPU and NUMA node
     * @see <a href="https://man7.org/linux/man-pages/man2/getcpu.2.html">getcpu(2)</a>
     */
    public static CpuNode getcpu() {
        MemorySegment out = Native.scratch();
        Native.call("getcpu", () -> "&cpu, &node, NULL", cap -> (long) Native.SYSCALL_3.invokeExact(cap,
                (long) Syscall.GETCPU.number(), out.address(), out.address() + 4, 0L));
        return new CpuNode(out.get(JAVA_INT, 0), out.get(JAVA_INT, 4));
    }

    /**
     * {@code sched_getaffinity(tid, ...)}.
     *
     * @param tid thread id, 0 for the calling thread
     * @return the CPUs the thread may run on
     * @see <a href="https://man7.org/linux/man-pages/man2/sched_getaffinity.2.html">sched_getaffinity(2)</a>
     */
    public static BitSet schedGetaffinity(int tid) {
        MemorySegment mask = Native.scratch();
        mask.fill((byte) 0);
        Native.call("sched_getaffinity", () -> tid + ", " + CPU_MASK_SIZE + ", mask",
                cap -> (int) SCHED_GETAFFINITY.invokeExact(cap, tid, CPU_MASK_SIZE, mask));
        return BitSet.valueOf(mask.toArray(JAVA_LONG));
    }

    /**
     * {@code sched_setaffinity(tid, ...)}.
     *
     * @param tid thread id, 0 for the calling thread
     * @param cpus the CPUs the thread may run on
     * @see <a href="https://man7.org/linux/man-pages/man2/sched_setaffinity.2.html">sched_setaffinity(2)</a>
     */
    public static void schedSetaffinity(int tid, BitSet cpus) {
        MemorySegment mask = Native.scratch();
        mask.fill((byte) 0);
        long[] words = cpus.toLongArray();
        if (words.length * 8L > CPU_MASK_SIZE) {
            throw new IllegalArgumentException("CPU set too large: " + cpus.length() + " CPUs");
        }
        MemorySegment.copy(words, 0, mask, JAVA_LONG, 0, words.length);
        Native.call("sched_setaffinity", () -> tid + ", " + CPU_MASK_SIZE + ", " + cpus,
                cap -> (int) SCHED_SETAFFINITY.invokeExact(cap, tid, CPU_MASK_SIZE, mask));
    }

    /**
     * {@code sched_setscheduler(tid, policy, &{priority})}: one thread's scheduling policy.
     *
     * @param tid thread id, 0 for the calling thread
     * @param policy for example {@link #SCHED_IDLE}, which any thread may take for itself
     * @param priority 0 for the normal policies, SCHED_IDLE among them
     * @throws NativeException EPERM without the privilege a policy needs, EINVAL for a bad policy or
     *     priority, ESRCH for no such thread
     * @see <a href="https://man7.org/linux/man-pages/man2/sched_setscheduler.2.html">sched_setscheduler(2)</a>
     */
    public static void schedSetscheduler(int tid, int policy, int priority) {
        MemorySegment param = Native.scratch();
        param.set(JAVA_INT, 0, priority);
        Native.call("sched_setscheduler", () -> tid + ", " + policy + ", {" + priority + "}",
                cap -> (int) SCHED_SETSCHEDULER.invokeExact(cap, tid, policy, param));
    }

    /**
     * {@code sched_yield()}.
     *
     * @see <a href="https://man7.org/linux/man-pages/man2/sched_yield.2.html">sched_yield(2)</a>
     */
    public static void schedYield() {
        Native.call("sched_yield", Native.NONE, cap -> (int) SCHED_YIELD.invokeExact(cap));
    }

    /**
     * {@code futex(word, FUTEX_WAKE_PRIVATE, count)}: wakes threads of this process sleeping in
     * {@code FUTEX_WAIT} on a 32-bit word, all at once in the kernel.
     *
     * @param word the futex word, 4-byte aligned native memory
     * @param count how many to wake at most, {@link Integer#MAX_VALUE} for all
     * @return how many were woken
     * @see <a href="https://man7.org/linux/man-pages/man2/futex.2.html">futex(2)</a>
     */
    public static int futexWake(MemorySegment word, int count) {
        return (int) Native.call("futex", () -> Fmt.hex(word.address()) + ", FUTEX_WAKE_PRIVATE, " + count,
                cap -> (long) Native.SYSCALL_3.invokeExact(cap, (long) Syscall.FUTEX.number(), word.address(),
                        (long) FUTEX_WAKE_PRIVATE, (long) count));
    }

    /**
     * {@code FUTEX_OP(op, oparg, cmp, cmparg)}: encodes the operation and comparison of a FUTEX_WAKE_OP.
     *
     * @param op {@link #FUTEX_OP_ADD} and the like
     * @param oparg the operation's argument, -2048 to 2047
     * @param cmp {@link #FUTEX_OP_CMP_EQ} and the like
     * @param cmparg the comparison's argument, -2048 to 2047
     * @return the encoded value, {@code val3} of the call
     */
    public static int futexOp(int op, int oparg, int cmp, int cmparg) {
        return ((op & 0xf) << 28) | ((cmp & 0xf) << 24) | ((oparg & 0xfff) << 12) | (cmparg & 0xfff);
    }

    /**
     * {@code futex(uaddr, FUTEX_WAKE_OP | FUTEX_PRIVATE_FLAG, 0, 0, uaddr2, op)} with {@code uaddr} a word of
     * the calling thread's own scratch buffer, which nobody waits on: atomically applies {@code op} to the
     * word at {@code uaddr2} as the calling thread (the kernel's access obeys its PKRU and the page's
     * protection; a denied access is EFAULT), then wakes waiters on {@code uaddr2} when the comparison held.
     * Note that the kernel wakes one waiter before it compares the count, so a count of 0 still wakes one
     * where a waiter is queued. Allocates nothing after the thread's first call into the native layer.
     *
     * @param uaddr2 the 4-byte aligned word the operation changes
     * @param op {@link #futexOp}
     * @return the number of waiters woken
     * @throws NativeException EFAULT when the thread may not write {@code uaddr2}, EINVAL for an unaligned
     *     word
     * @see <a href="https://man7.org/linux/man-pages/man2/futex.2.html">futex(2)</a>
     */
    public static int futexWakeOp(long uaddr2, int op) {
        return futexWakeOp(Native.scratch().address() + Native.SCRATCH_SIZE - 8, 0, 0, uaddr2, op);
    }

    /**
     * {@code futex(uaddr, FUTEX_WAKE_OP | FUTEX_PRIVATE_FLAG, nrWake, nrWake2, uaddr2, op)}, see
     * {@link #futexWakeOp(long, int)}.
     *
     * @param uaddr a 4-byte aligned word
     * @param nrWake waiters to wake on {@code uaddr}
     * @param nrWake2 waiters to wake on {@code uaddr2}
     * @param uaddr2 the 4-byte aligned word the operation changes
     * @param op {@link #futexOp}
     * @return the number of waiters woken
     * @throws NativeException EFAULT when the thread may not write {@code uaddr2}, EINVAL for an unaligned
     *     word
     * @see <a href="https://man7.org/linux/man-pages/man2/futex.2.html">futex(2)</a>
     */
    public static int futexWakeOp(long uaddr, int nrWake, int nrWake2, long uaddr2, int op) {
        return (int) Native.call("futex", () -> Fmt.hex(uaddr) + ", FUTEX_WAKE_OP|FUTEX_PRIVATE_FLAG, " + nrWake + ", "
                + nrWake2 + ", " + Fmt.hex(uaddr2) + ", " + Fmt.hex(op & 0xffffffffL),
                cap -> (long) Native.SYSCALL_6.invokeExact(cap, (long) Syscall.FUTEX.number(), uaddr,
                        (long) (FUTEX_WAKE_OP | FUTEX_PRIVATE_FLAG), (long) nrWake, (long) nrWake2, uaddr2, (long) op));
    }

    /**
     * {@code tgkill(tgid, tid, sig)}: sends a signal to one thread.
     *
     * @param tgid the process id
     * @param tid the thread's kernel task id
     * @param sig the signal
     * @throws NativeException ESRCH when no such thread, EINVAL for a bad signal
     * @see <a href="https://man7.org/linux/man-pages/man2/tgkill.2.html">tgkill(2)</a>
     */
    public static void tgkill(int tgid, int tid, int sig) {
        Native.call("tgkill", () -> tgid + ", " + tid + ", " + sig, cap -> (long) Native.SYSCALL_3.invokeExact(cap,
                (long) Syscall.TGKILL.number(), (long) tgid, (long) tid, (long) sig));
    }

    /**
     * {@code gettid()}.
     *
     * @return the calling thread's kernel task id
     * @see <a href="https://man7.org/linux/man-pages/man2/gettid.2.html">gettid(2)</a>
     */
    public static int gettid() {
        return (int) Native.fact("gettid", Native.NONE, () -> (int) GETTID.invokeExact());
    }

    /**
     * {@code getpid()}.
     *
     * @return the process id
     * @see <a href="https://man7.org/linux/man-pages/man2/getpid.2.html">getpid(2)</a>
     */
    public static int getpid() {
        return (int) Native.fact("getpid", Native.NONE, () -> (int) GETPID.invokeExact());
    }

    /**
     * {@code pthread_self()}.
     *
     * @return the calling thread's pthread_t, which glibc makes the TCB address
     * @see <a href="https://man7.org/linux/man-pages/man3/pthread_self.3.html">pthread_self(3)</a>
     */
    public static long pthreadSelf() {
        return Native.fact("pthread_self", Native.NONE, () -> (long) PTHREAD_SELF.invokeExact());
    }

    /**
     * The calling thread's stack as glibc knows it: {@code pthread_getattr_np(pthread_self())} and
     * {@code pthread_attr_getstack}. For a thread glibc created, the range is the whole stack block
     * without its guard, so it also holds the thread's TCB and static TLS, which glibc places at the top;
     * for the process's initial thread glibc reads /proc/self/maps and the stack limit.
     *
     * @return the usable stack, lowest address first
     * @throws NativeException with the error number the pthread function returned
     * @see <a href="https://man7.org/linux/man-pages/man3/pthread_getattr_np.3.html">pthread_getattr_np(3)</a>
     */
    public static ThreadStack threadStack() {
        MemorySegment scratch = Native.scratch();
        MemorySegment attr = scratch.asSlice(0, PTHREAD_ATTR_SPACE);
        MemorySegment addr = scratch.asSlice(PTHREAD_ATTR_SPACE, 8);
        MemorySegment size = scratch.asSlice(PTHREAD_ATTR_SPACE + 8, 8);
        long self = pthreadSelf();
        Native.callReturningError("pthread_getattr_np", () -> Fmt.hex(self) + ", &attr",
                () -> (int) PTHREAD_GETATTR_NP.invokeExact(self, attr));
        try {
            Native.callReturningError("pthread_attr_getstack", () -> "&attr, &addr, &size",
                    () -> (int) PTHREAD_ATTR_GETSTACK.invokeExact(attr, addr, size));
        } finally {
            Native.callReturningError("pthread_attr_destroy", () -> "&attr",
                    () -> (int) PTHREAD_ATTR_DESTROY.invokeExact(attr));
        }
        long low = addr.get(JAVA_LONG, 0);
        return new ThreadStack(low, low + size.get(JAVA_LONG, 0));
    }

    /**
     * {@code pthread_sigmask(how, set, &old)}: changes the calling thread's blocked signals. A blocked
     * signal sent to the thread stays pending until it is unblocked; a process-directed one goes to
     * another thread that does not block it. glibc silently keeps its own two internal signals (32 and
     * 33) unblocked. Blocking a synchronous fault signal (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP) does
     * not hold it: the kernel then kills the process when the fault happens.
     *
     * @param how {@link #SIG_BLOCK}, {@link #SIG_UNBLOCK} or {@link #SIG_SETMASK}
     * @param set signals 1 to 64 as bits: bit {@code n - 1} for signal {@code n}
     * @return the mask before the call, in the same form
     * @throws NativeException EINVAL for a bad {@code how}
     * @see <a href="https://man7.org/linux/man-pages/man3/pthread_sigmask.3.html">pthread_sigmask(3)</a>
     */
    public static long pthreadSigmask(int how, long set) {
        MemorySegment scratch = Native.scratch();
        MemorySegment in = scratch.asSlice(0, SIGSET_SIZE);
        MemorySegment old = scratch.asSlice(SIGSET_SIZE, SIGSET_SIZE);
        in.fill((byte) 0);
        old.fill((byte) 0);
        in.set(JAVA_LONG, 0, set);
        Native.callReturningError("pthread_sigmask", () -> how + ", " + Fmt.hex(set) + ", &old",
                () -> (int) PTHREAD_SIGMASK.invokeExact(how, in, old));
        return old.get(JAVA_LONG, 0);
    }

    /**
     * The number of online CPUs, {@code sysconf(_SC_NPROCESSORS_ONLN)}.
     *
     * @return online CPUs, regardless of this thread's affinity
     */
    public static int onlineCpus() {
        return (int) MemoryCalls.sysconf(MemoryCalls.SC_NPROCESSORS_ONLN);
    }
}
