package dev.pkrseq.bench;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.invoke.MethodHandle;

import dev.pkrseq.sys.Syscall;

/**
 * Bare FFM handles: the baselines the benchmarks set pkrseq against. They skip everything pkrseq's
 * native layer adds (errno capture, the JFR event, the exception), so the difference is the layer's
 * cost. The library itself never uses these; its only Linker user is {@code dev.pkrseq.sys.Native}.
 */
@SuppressWarnings("restricted")
public final class Bare {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final Linker.Option CRITICAL = Linker.Option.critical(false);

    /** {@code sched_getcpu()}, a plain downcall. */
    public static final MethodHandle SCHED_GETCPU = handle("sched_getcpu", FunctionDescriptor.of(JAVA_INT));
    /** {@code sched_getcpu()}, a critical downcall. */
    public static final MethodHandle SCHED_GETCPU_CRITICAL =
            handle("sched_getcpu", FunctionDescriptor.of(JAVA_INT), CRITICAL);
    /** {@code syscall(SYS_getcpu, &cpu, &node, NULL)}: the system call itself, no vDSO, no rseq. */
    public static final MethodHandle SYSCALL_3 = handle("syscall",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS), Linker.Option.firstVariadicArg(1));
    /**
     * {@code labs(long)} through a critical handle: a few instructions and no system call, so its time is
     * the JDK's critical call stub alone. (getpid would not do: glibc stopped caching the pid in 2.25, so
     * it is a real system call.)
     */
    public static final MethodHandle LABS_CRITICAL = handle("labs", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG), CRITICAL);
    /** glibc's {@code pkey_get(key)}, critical. */
    public static final MethodHandle PKEY_GET_CRITICAL =
            handle("pkey_get", FunctionDescriptor.of(JAVA_INT, JAVA_INT), CRITICAL);
    /** glibc's {@code pkey_set(key, rights)}, critical. */
    public static final MethodHandle PKEY_SET_CRITICAL =
            handle("pkey_set", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), CRITICAL);

    /** {@code SYS_getcpu}, from the library's system call table (x86_64). */
    public static final long SYS_GETCPU = Syscall.GETCPU.number();

    private Bare() {
    }

    private static MethodHandle handle(String name, FunctionDescriptor fd, Linker.Option... options) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), fd, options);
    }
}
