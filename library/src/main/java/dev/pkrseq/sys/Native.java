package dev.pkrseq.sys;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.pkrseq.NativeException;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The one helper under the per-subject call classes: the only code in pkrseq that touches {@link Linker}.
 *
 * <p>It holds the call template once, so no call class repeats it:
 * <ul>
 *   <li>every handle is built here, once, into a {@code static final} field of its call class;</li>
 *   <li>errno is captured into a segment owned by the calling thread (never one shared segment, never an
 *       {@link Arena} per call), and read only when the call failed;</li>
 *   <li>a failure becomes a {@link NativeException} that names the call, its arguments in C terms and
 *       errno by name; the arguments are rendered only on that path or for a recording;</li>
 *   <li>a {@link NativeCallEvent} is filled and committed only when a JFR recording asks for it.</li>
 * </ul>
 * Handles use {@link Linker.Option#critical(boolean) critical(false)} only for functions that never
 * block and never call back into Java (pkey_get, pkey_set, sched_getcpu, getauxval, gettid, getpid,
 * pthread_self, __errno_location). Those have no errno capture: their arguments are checked before
 * the call, and in the unexpected case that one fails, {@link #critical} repeats it through a capturing
 * handle to learn errno. The critical template takes its arguments as ints and its call as a
 * non-capturing lambda, so its fast path allocates nothing even where escape analysis gives up.
 *
 * <p>Restricted FFM methods are confined to this package, hence the suppression.
 */
@SuppressWarnings("restricted")
final class Native {
    static final Linker LINKER = Linker.nativeLinker();
    static final SymbolLookup LIBC = LINKER.defaultLookup();

    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
            CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");
    private static final Linker.Option CRITICAL = Linker.Option.critical(false);
    /** Bytes of each thread's buffer for out-parameters. */
    static final long SCRATCH_SIZE = 512;

    /** What one thread owns for its calls: the errno capture and a buffer for out-parameters. */
    private static final class PerThread {
        final MemorySegment capture;
        final MemorySegment scratch;

        PerThread() {
            Arena arena = Arena.ofAuto();
            capture = arena.allocate(CAPTURE_LAYOUT);
            scratch = arena.allocate(SCRATCH_SIZE, 16);
        }
    }

    private static final Linker.Option VARIADIC_AFTER_NUMBER = Linker.Option.firstVariadicArg(1);

    // syscall(2) is variadic: one handle per argument count; every argument after the number is a long.
    static final MethodHandle SYSCALL_2 = errno("syscall", FunctionDescriptor.of(JAVA_LONG,
            JAVA_LONG, JAVA_LONG, JAVA_LONG), VARIADIC_AFTER_NUMBER);
    static final MethodHandle SYSCALL_3 = errno("syscall", FunctionDescriptor.of(JAVA_LONG,
            JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG), VARIADIC_AFTER_NUMBER);
    static final MethodHandle SYSCALL_4 = errno("syscall", FunctionDescriptor.of(JAVA_LONG,
            JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG), VARIADIC_AFTER_NUMBER);
    static final MethodHandle SYSCALL_6 = errno("syscall", FunctionDescriptor.of(JAVA_LONG,
            JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG), VARIADIC_AFTER_NUMBER);

    private static final ThreadLocal<PerThread> PER_THREAD = ThreadLocal.withInitial(PerThread::new);

    private Native() {
    }

    /** Renders a call's arguments in C terms; called only on failure or for a recording. */
    @FunctionalInterface
    interface Args {
        String format();
    }

    /** Renders the two int arguments of a critical call. */
    @FunctionalInterface
    interface IntArgs {
        String format(int a, int b);
    }

    /** A downcall through an errno-capturing handle. */
    @FunctionalInterface
    interface Call {
        long invoke(MemorySegment capture) throws Throwable;
    }

    /** A downcall that sets no errno: it cannot fail, or returns its error number. */
    @FunctionalInterface
    interface Plain {
        long invoke() throws Throwable;
    }

    /**
     * A critical downcall of up to two int arguments: through the critical handle when {@code capture} is
     * null, else through the capturing twin to learn errno.
     */
    @FunctionalInterface
    interface Critical {
        int invoke(MemorySegment capture, int a, int b) throws Throwable;
    }

    /** Arguments of a call that takes none. */
    static final Args NONE = () -> "";

    /**
     * Calls a C function or system call that returns -1 and sets errno on failure.
     *
     * @return the raw result, widened to long
     * @throws NativeException when the call returned -1
     */
    static long call(String function, Args args, Call call) {
        NativeCallEvent ev = new NativeCallEvent();
        ev.begin();
        MemorySegment cap = PER_THREAD.get().capture;
        long r;
        try {
            r = call.invoke(cap);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r == -1 || ev.shouldCommit()) {
            end(ev, function, args, r, r == -1 ? (int) ERRNO.get(cap, 0L) : 0, r == -1);
        }
        return r;
    }

    /**
     * Calls a function that returns an error number instead of setting errno (pthread_*).
     *
     * @throws NativeException when the result is not 0
     */
    static void callReturningError(String function, Args args, Plain call) {
        NativeCallEvent ev = new NativeCallEvent();
        ev.begin();
        int r;
        try {
            r = (int) call.invoke();
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r != 0 || ev.shouldCommit()) {
            end(ev, function, args, r, r, r != 0);
        }
    }

    /**
     * Calls a function that cannot fail (gettid, getauxval, pthread_self ...).
     *
     * @return the raw result, widened to long
     */
    static long fact(String function, Args args, Plain call) {
        NativeCallEvent ev = new NativeCallEvent();
        ev.begin();
        long r;
        try {
            r = call.invoke();
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (ev.shouldCommit()) {
            ev.commit(function, args.format(), r, 0);
        }
        return r;
    }

    /**
     * Calls a critical function with no errno capture; a negative result is repeated through the
     * capturing twin to learn errno, then thrown.
     *
     * @return the result
     * @throws NativeException when the result is negative
     */
    static int critical(String function, IntArgs args, Critical call, int a, int b) {
        NativeCallEvent ev = new NativeCallEvent();
        ev.begin();
        int r;
        try {
            r = call.invoke(null, a, b);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r < 0 || ev.shouldCommit()) {
            end(ev, function, () -> args.format(a, b), r, r < 0 ? errnoOfRepeat(call, a, b) : 0, r < 0);
        }
        return r;
    }

    private static int errnoOfRepeat(Critical call, int a, int b) {
        MemorySegment cap = PER_THREAD.get().capture;
        int again;
        try {
            again = call.invoke(cap, a, b);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return again < 0 ? (int) ERRNO.get(cap, 0L) : 0;
    }

    /** Slow path: records the event if wanted and throws when the call failed. */
    private static void end(NativeCallEvent ev, String function, Args args, long result, int errno, boolean failed) {
        String rendered = args.format();
        if (ev.shouldCommit()) {
            ev.commit(function, rendered, result, errno);
        }
        if (failed) {
            throw new NativeException(function, rendered, errno);
        }
    }

    /**
     * The calling thread's buffer for out-parameters, {@link #SCRATCH_SIZE} bytes, 16-byte aligned.
     * Valid until the thread's next call that uses it.
     */
    static MemorySegment scratch() {
        return PER_THREAD.get().scratch;
    }

    static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException re) {
            throw re;
        }
        if (t instanceof Error e) {
            throw e;
        }
        throw new AssertionError("native call threw a checked exception", t);
    }

    // ---- Handles ------------------------------------------------------------------------------

    private static MemorySegment symbol(String name) {
        return LIBC.find(name).orElseThrow(() -> new UnsatisfiedLinkError("C library function not found: " + name));
    }

    /** A handle that captures errno, for {@link #call}. */
    static MethodHandle errno(String name, FunctionDescriptor fd, Linker.Option... extra) {
        Linker.Option[] options = new Linker.Option[extra.length + 1];
        options[0] = CAPTURE_ERRNO;
        System.arraycopy(extra, 0, options, 1, extra.length);
        return LINKER.downcallHandle(symbol(name), fd, options);
    }

    /** A critical handle without capture, for {@link #critical} and {@link #fact}. */
    static MethodHandle critical(String name, FunctionDescriptor fd) {
        return LINKER.downcallHandle(symbol(name), fd, CRITICAL);
    }

    /** A plain handle, for functions that may block or call back and set no errno. */
    static MethodHandle plain(String name, FunctionDescriptor fd) {
        return LINKER.downcallHandle(symbol(name), fd);
    }

    /** A plain handle, or null when the C library does not export the function. */
    static MethodHandle optional(String name, FunctionDescriptor fd) {
        return LIBC.find(name).map(s -> LINKER.downcallHandle(s, fd)).orElse(null);
    }

    /** A handle for code at an address; critical only for code that never blocks or calls back. */
    static MethodHandle downcall(MemorySegment function, FunctionDescriptor fd, boolean critical) {
        return critical ? LINKER.downcallHandle(function, fd, CRITICAL) : LINKER.downcallHandle(function, fd);
    }

    /** An upcall stub of the global arena: lives as long as the JVM. */
    static MemorySegment upcall(MethodHandle target, FunctionDescriptor fd) {
        return LINKER.upcallStub(target, fd, Arena.global());
    }

    /** A segment over memory pkrseq did not allocate; the caller answers for it being mapped. */
    static MemorySegment reinterpret(long address, long size) {
        return MemorySegment.ofAddress(address).reinterpret(size);
    }
}
