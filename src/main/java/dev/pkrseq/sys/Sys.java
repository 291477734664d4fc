package dev.pkrseq.sys;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.invoke.VarHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;

/**
 * The native layer: the only class in pkrseq that touches {@link Linker}.
 *
 * <p>Every C function or system call pkrseq makes goes through a static method here. Each method
 * <ul>
 *   <li>calls a {@code static final} downcall handle built once when this class loads;</li>
 *   <li>captures errno into a segment owned by the calling thread (never one shared segment, never an
 *       {@link Arena} per call), and reads it only when the call failed;</li>
 *   <li>turns a failure into a {@link NativeException} that names the call, its arguments and errno;</li>
 *   <li>emits a {@link NativeCallEvent} when a JFR recording asks for it.</li>
 * </ul>
 * Handles use {@link Linker.Option#critical(boolean) critical(false)} only for functions that never
 * block and never call back into Java: pkey_get, pkey_set, sched_getcpu, getauxval, gettid, getpid,
 * pthread_self and __errno_location. Those few are not given an errno capture either: their arguments
 * are checked before the call, and in the unexpected case that one fails the call is repeated through
 * a capturing handle to learn errno.
 *
 * <p>Methods here are raw: they check nothing beyond what keeps the JVM alive (PKRU instructions are
 * refused where the kernel did not enable them, because they would raise SIGILL). The subject packages
 * build the guarded, typed APIs.
 *
 * <p>Restricted FFM methods are confined to this class too, hence the one suppression below: the jar
 * enables native access in its manifest, and the build passes {@code --enable-native-access}.
 */
@SuppressWarnings("restricted")
public final class Sys {
    /** {@code PROT_NONE}. */
    public static final int PROT_NONE = 0;
    /** {@code PROT_READ}. */
    public static final int PROT_READ = 1;
    /** {@code PROT_WRITE}. */
    public static final int PROT_WRITE = 2;
    /** {@code PROT_EXEC}. */
    public static final int PROT_EXEC = 4;
    /** {@code MAP_PRIVATE}. */
    public static final int MAP_PRIVATE = 0x02;
    /** {@code MAP_ANONYMOUS}. */
    public static final int MAP_ANONYMOUS = 0x20;
    /** {@code MAP_POPULATE}. */
    public static final int MAP_POPULATE = 0x8000;
    /** {@code MAP_FIXED_NOREPLACE}: map at exactly this address, or fail with EEXIST. */
    public static final int MAP_FIXED_NOREPLACE = 0x100000;
    /** {@code PKEY_DISABLE_ACCESS}. */
    public static final int PKEY_DISABLE_ACCESS = 1;
    /** {@code PKEY_DISABLE_WRITE}. */
    public static final int PKEY_DISABLE_WRITE = 2;
    /** {@code O_CLOEXEC}. */
    public static final int O_CLOEXEC = 0x80000;
    /** {@code O_NONBLOCK}. */
    public static final int O_NONBLOCK = 0x800;
    /** {@code AT_PAGESZ}. */
    public static final long AT_PAGESZ = 6;
    /** {@code AT_HWCAP2}. */
    public static final long AT_HWCAP2 = 26;
    /** {@code AT_RSEQ_FEATURE_SIZE}: the size of struct rseq the kernel supports (Linux 6.3+). */
    public static final long AT_RSEQ_FEATURE_SIZE = 27;
    /** {@code AT_RSEQ_ALIGN}: the alignment struct rseq must have (Linux 6.3+). */
    public static final long AT_RSEQ_ALIGN = 28;
    /** {@code MEMBARRIER_CMD_QUERY}: the supported commands, as a bit mask. */
    public static final int MEMBARRIER_CMD_QUERY = 0;
    /** {@code MEMBARRIER_CMD_PRIVATE_EXPEDITED}: a memory barrier on every CPU running a thread of this process. */
    public static final int MEMBARRIER_CMD_PRIVATE_EXPEDITED = 1 << 3;
    /** {@code MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED}. */
    public static final int MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED = 1 << 4;
    /** {@code MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ} (Linux 5.10): aborts the rseq critical sections running there. */
    public static final int MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ = 1 << 7;
    /** {@code MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ} (Linux 5.10). */
    public static final int MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ = 1 << 8;
    /** {@code MEMBARRIER_CMD_GET_REGISTRATIONS} (Linux 6.3): the commands this process registered, as a bit mask. */
    public static final int MEMBARRIER_CMD_GET_REGISTRATIONS = 1 << 9;
    /** {@code MEMBARRIER_CMD_FLAG_CPU}: only the CPU named by the third argument. */
    public static final int MEMBARRIER_CMD_FLAG_CPU = 1;
    /** {@code RSEQ_FLAG_UNREGISTER}. */
    public static final int RSEQ_FLAG_UNREGISTER = 1;
    /** {@code pthread_sigmask}: add the set to the blocked signals. */
    public static final int SIG_BLOCK = 0;
    /** {@code pthread_sigmask}: remove the set from the blocked signals. */
    public static final int SIG_UNBLOCK = 1;
    /** {@code pthread_sigmask}: make the set the blocked signals. */
    public static final int SIG_SETMASK = 2;
    /**
     * {@code SCHED_IDLE}: the lowest scheduling policy, below nice 19; a thread of this policy runs only
     * where no other thread of its CPU wants to, in effect, and any thread may take it for itself.
     */
    public static final int SCHED_IDLE = 5;
    /** Illegal instruction: synchronous, raised by the faulting instruction. */
    public static final int SIGILL = 4;
    /** Trace or breakpoint trap: synchronous. */
    public static final int SIGTRAP = 5;
    /** Bus error (for example a truncated mapped file): synchronous. */
    public static final int SIGBUS = 7;
    /** Arithmetic fault (HotSpot's implicit division-by-zero check on x86): synchronous. */
    public static final int SIGFPE = 8;
    /** Segmentation fault (HotSpot's safepoint polls and implicit null checks; pkey faults): synchronous. */
    public static final int SIGSEGV = 11;
    /** User signal 2: HotSpot's suspend/resume signal on Linux. */
    public static final int SIGUSR2 = 12;
    /** Bad system call (seccomp): synchronous. */
    public static final int SIGSYS = 31;

    private static final int ARCH_GET_FS = 0x1003;
    private static final int FUTEX_WAKE_PRIVATE = 129;
    /** sizeof(sigset_t) in glibc: 1024 bits, of which the kernel uses the first 64. */
    private static final long SIGSET_SIZE = 128;
    private static final int SC_PAGESIZE = 30;
    private static final int SC_NPROCESSORS_ONLN = 84;
    private static final int UTSNAME_FIELD = 65;
    private static final int PT_TLS = 7;
    private static final long SCRATCH_SIZE = 512;
    /** sizeof(pthread_attr_t) is 56 on x86_64 and 64 on arm64; the scratch buffer reserves 128. */
    private static final long PTHREAD_ATTR_SPACE = 128;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
            CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");
    private static final Linker.Option CRITICAL = Linker.Option.critical(false);
    private static final Linker.Option VARIADIC_AFTER_NUMBER = Linker.Option.firstVariadicArg(1);

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

    private static final ThreadLocal<PerThread> PER_THREAD = ThreadLocal.withInitial(PerThread::new);

    // Protection keys (glibc wrappers).
    private static final MethodHandle PKEY_ALLOC = errno("pkey_alloc", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle PKEY_FREE = errno("pkey_free", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle PKEY_MPROTECT = errno("pkey_mprotect",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT));
    private static final MethodHandle PKEY_GET = critical("pkey_get", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle PKEY_GET_ERRNO = errno("pkey_get", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle PKEY_SET = critical("pkey_set", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle PKEY_SET_ERRNO = errno("pkey_set", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));

    // Memory.
    private static final MethodHandle MMAP = errno("mmap",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle MUNMAP = errno("munmap", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle MPROTECT = errno("mprotect", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));

    // File descriptors.
    private static final MethodHandle PIPE2 = errno("pipe2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle READ = errno("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle WRITE = errno("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle CLOSE = errno("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));

    // Scheduling.
    private static final MethodHandle SCHED_GETCPU = critical("sched_getcpu", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle SCHED_GETCPU_ERRNO = errno("sched_getcpu", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle SCHED_GETAFFINITY = errno("sched_getaffinity",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS));
    private static final MethodHandle SCHED_SETAFFINITY = errno("sched_setaffinity",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS));
    private static final MethodHandle SCHED_YIELD = errno("sched_yield", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle SCHED_SETSCHEDULER = errno("sched_setscheduler",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));

    // syscall(2) is variadic: one handle per argument shape; every argument after the number is a long.
    private static final MethodHandle SYSCALL_3 = errno("syscall", FunctionDescriptor.of(JAVA_LONG,
            JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG), VARIADIC_AFTER_NUMBER);
    private static final MethodHandle SYSCALL_4 = errno("syscall", FunctionDescriptor.of(JAVA_LONG,
            JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG), VARIADIC_AFTER_NUMBER);
    private static final MethodHandle SYSCALL_2 = errno("syscall", FunctionDescriptor.of(JAVA_LONG,
            JAVA_LONG, JAVA_LONG, JAVA_LONG), VARIADIC_AFTER_NUMBER);
    private static final MethodHandle SYSCALL_6 = errno("syscall", FunctionDescriptor.of(JAVA_LONG,
            JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG), VARIADIC_AFTER_NUMBER);

    // Process and thread facts.
    private static final MethodHandle GETTID = critical("gettid", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle GETPID = critical("getpid", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle PTHREAD_SELF = critical("pthread_self", FunctionDescriptor.of(JAVA_LONG));
    // pthread functions return the error number instead of setting errno: no capture.
    private static final MethodHandle PTHREAD_GETATTR_NP = plain("pthread_getattr_np",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS));
    private static final MethodHandle PTHREAD_ATTR_GETSTACK = plain("pthread_attr_getstack",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    private static final MethodHandle PTHREAD_ATTR_DESTROY = plain("pthread_attr_destroy",
            FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle PTHREAD_SIGMASK = plain("pthread_sigmask",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle ERRNO_LOCATION = critical("__errno_location", FunctionDescriptor.of(ADDRESS));
    private static final MethodHandle GETAUXVAL = critical("getauxval", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG));
    private static final MethodHandle SYSCONF = errno("sysconf", FunctionDescriptor.of(JAVA_LONG, JAVA_INT));
    private static final MethodHandle UNAME = errno("uname", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle STRERROR = plain("strerror", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    private static final MethodHandle GNU_GET_LIBC_VERSION =
            optional("gnu_get_libc_version", FunctionDescriptor.of(ADDRESS));

    // Loader.
    private static final MethodHandle DL_GET_TLS_STATIC_INFO =
            optional("_dl_get_tls_static_info", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS));
    private static final MethodHandle DL_ITERATE_PHDR =
            plain("dl_iterate_phdr", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MemorySegment PHDR_CALLBACK = phdrCallback();
    private static final ThreadLocal<PhdrWalk> PHDR_WALK = new ThreadLocal<>();

    private static final long PAGE_SIZE = sysconf(SC_PAGESIZE);

    private Sys() {
    }

    // ---- Protection keys ----------------------------------------------------------------------

    /**
     * {@code pkey_alloc(flags, rights)}: allocates a protection key and sets the calling thread's rights.
     *
     * @param flags must be 0 today
     * @param rights initial rights for the calling thread: 0, {@link #PKEY_DISABLE_ACCESS} or
     *     {@link #PKEY_DISABLE_WRITE}
     * @return the key, 1 to 15 on x86_64
     * @throws NativeException ENOSPC when no key is left, EINVAL for bad arguments or where the kernel did
     *     not enable protection keys
     */
    public static int pkeyAlloc(int flags, int rights) {
        NativeCallEvent ev = begin();
        MemorySegment cap = capture();
        int r;
        try {
            r = (int) PKEY_ALLOC.invokeExact(cap, flags, rights);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r == -1 || ev.shouldCommit()) {
            finish(ev, "pkey_alloc", flags + ", " + Fmt.rights(rights), r, cap);
        }
        return r;
    }

    /**
     * {@code pkey_free(key)}. The kernel frees a key even while pages still carry it.
     *
     * @param key the key
     * @throws NativeException EINVAL when the key is not allocated
     */
    public static void pkeyFree(int key) {
        NativeCallEvent ev = begin();
        MemorySegment cap = capture();
        int r;
        try {
            r = (int) PKEY_FREE.invokeExact(cap, key);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r == -1 || ev.shouldCommit()) {
            finish(ev, "pkey_free", Integer.toString(key), r, cap);
        }
    }

    /**
     * {@code pkey_mprotect(addr, len, prot, key)}: sets protection and key on a page range in one call.
     *
     * @param address page-aligned start
     * @param length bytes; the kernel rounds up to whole pages
     * @param prot {@code PROT_*} bits
     * @param key the key, or -1 to leave keys as they are (plain mprotect)
     * @throws NativeException ENOMEM when part of the range is not mapped, EINVAL for a bad key
     */
    public static void pkeyMprotect(long address, long length, int prot, int key) {
        NativeCallEvent ev = begin();
        MemorySegment cap = capture();
        int r;
        try {
            r = (int) PKEY_MPROTECT.invokeExact(cap, MemorySegment.ofAddress(address), length, prot, key);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r == -1 || ev.shouldCommit()) {
            finish(ev, "pkey_mprotect", Fmt.hex(address) + ", " + length + ", " + Fmt.prot(prot) + ", key " + key, r, cap);
        }
    }

    /**
     * {@code pkey_mprotect(addr, len, prot, key)} over a native segment: the segment itself is passed to the
     * downcall, so the linker keeps its scope alive for the call. A shared arena cannot close while the call
     * runs (its {@code close()} throws IllegalStateException), and a segment whose arena closed before the
     * call fails before the kernel is entered, so the call never reaches memory that was unmapped and
     * perhaps mapped again by someone else.
     *
     * @param segment native, page-aligned; its whole length is changed
     * @param prot {@code PROT_*} bits
     * @param key the key, or -1 to leave keys as they are (plain mprotect)
     * @throws NativeException ENOMEM when part of the range is not mapped, EINVAL for a bad key
     * @throws IllegalStateException when the segment's arena is closed (from the linker, before the call)
     * @throws WrongThreadException for a segment of a confined arena owned by another thread
     * @throws IllegalArgumentException for a heap segment
     */
    public static void pkeyMprotect(MemorySegment segment, int prot, int key) {
        NativeCallEvent ev = begin();
        MemorySegment cap = capture();
        long length = segment.byteSize();
        int r;
        try {
            r = (int) PKEY_MPROTECT.invokeExact(cap, segment, length, prot, key);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r == -1 || ev.shouldCommit()) {
            finish(ev, "pkey_mprotect", Fmt.hex(segment.address()) + ", " + length + ", " + Fmt.prot(prot) + ", key " + key,
                    r, cap);
        }
    }

    /**
     * glibc's {@code pkey_get(key)}: the calling thread's rights for a key, read from PKRU (RDPKRU).
     * A critical downcall: it neither blocks nor calls back.
     *
     * @param key 0 to 15
     * @return 0, {@link #PKEY_DISABLE_ACCESS}, {@link #PKEY_DISABLE_WRITE} or both
     * @throws UnsupportedOperationException where the kernel did not enable protection keys
     * @throws NativeException EINVAL for a key outside 0 to 15
     */
    public static int pkeyGet(int key) {
        requirePkru();
        NativeCallEvent ev = begin();
        int r;
        try {
            r = (int) PKEY_GET.invokeExact(key);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r < 0 || ev.shouldCommit()) {
            finishCritical(ev, "pkey_get", Integer.toString(key), r, () -> (int) PKEY_GET_ERRNO.invokeExact(capture(), key));
        }
        return r;
    }

    /**
     * glibc's {@code pkey_set(key, rights)}: sets the calling thread's rights for a key (RDPKRU, WRPKRU).
     * A critical downcall: it neither blocks nor calls back.
     *
     * @param key 0 to 15
     * @param rights 0, {@link #PKEY_DISABLE_ACCESS}, {@link #PKEY_DISABLE_WRITE} or both
     * @throws UnsupportedOperationException where the kernel did not enable protection keys
     * @throws NativeException EINVAL for a bad key or rights
     */
    public static void pkeySet(int key, int rights) {
        requirePkru();
        NativeCallEvent ev = begin();
        int r;
        try {
            r = (int) PKEY_SET.invokeExact(key, rights);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r != 0 || ev.shouldCommit()) {
            finishCritical(ev, "pkey_set", key + ", " + Fmt.rights(rights), r,
                    () -> (int) PKEY_SET_ERRNO.invokeExact(capture(), key, rights));
        }
    }

    /**
     * Whether this CPU and kernel let user code read and write PKRU. Where they do not, RDPKRU and
     * WRPKRU raise SIGILL, which would kill the JVM, so {@link #pkeyGet} and {@link #pkeySet} refuse.
     *
     * @return true when /proc/cpuinfo lists {@code ospke} (the kernel set CR4.PKE)
     */
    public static boolean pkruUsable() {
        return PkruSupport.USABLE;
    }

    private static void requirePkru() {
        if (!PkruSupport.USABLE) {
            throw new UnsupportedOperationException("PKRU is not usable here: the kernel has not enabled protection keys"
                    + " (no 'ospke' flag in /proc/cpuinfo), so RDPKRU/WRPKRU would raise SIGILL and kill the JVM");
        }
    }

    /** Read once, on first PKRU use: the kernel sets the ospke flag exactly when it enabled CR4.PKE. */
    private static final class PkruSupport {
        static final boolean USABLE = cpuFlags().contains("ospke");
    }

    /**
     * The CPU flags the kernel reports for the first CPU in /proc/cpuinfo.
     *
     * @return the flags, space separated and padded with a space on each side, or " " when unreadable
     */
    public static String cpuFlags() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("flags")) {
                    int colon = line.indexOf(':');
                    return " " + line.substring(colon + 1).trim() + " ";
                }
            }
        } catch (IOException | RuntimeException e) {
            return " ";
        }
        return " ";
    }

    // ---- Memory -------------------------------------------------------------------------------

    /**
     * {@code mmap(addr, length, prot, flags, fd, offset)}.
     *
     * @param address hint or fixed address, 0 for any
     * @param length bytes
     * @param prot {@code PROT_*}
     * @param flags {@code MAP_*}
     * @param fd file descriptor, -1 for anonymous memory
     * @param offset file offset
     * @return the mapped address
     * @throws NativeException on failure (MAP_FAILED)
     */
    public static long mmap(long address, long length, int prot, int flags, int fd, long offset) {
        NativeCallEvent ev = begin();
        MemorySegment cap = capture();
        long r;
        try {
            r = ((MemorySegment) MMAP.invokeExact(cap, MemorySegment.ofAddress(address), length, prot, flags, fd, offset)).address();
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r == -1L || ev.shouldCommit()) {
            finish(ev, "mmap", Fmt.hex(address) + ", " + length + ", " + Fmt.prot(prot) + ", " + Fmt.mapFlags(flags)
                    + ", " + fd + ", " + offset, r, cap);
        }
        return r;
    }

    /**
     * {@code munmap(addr, length)}.
     *
     * @param address page-aligned start
     * @param length bytes
     */
    public static void munmap(long address, long length) {
        NativeCallEvent ev = begin();
        MemorySegment cap = capture();
        int r;
        try {
            r = (int) MUNMAP.invokeExact(cap, MemorySegment.ofAddress(address), length);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r == -1 || ev.shouldCommit()) {
            finish(ev, "munmap", Fmt.hex(address) + ", " + length, r, cap);
        }
    }

    /**
     * {@code mprotect(addr, length, prot)}. On x86_64 it keeps each page's protection key, except that
     * {@code PROT_EXEC} alone moves the pages to the kernel's hidden execute-only key.
     *
     * @param address page-aligned start
     * @param length bytes
     * @param prot {@code PROT_*}
     */
    public static void mprotect(long address, long length, int prot) {
        NativeCallEvent ev = begin();
        MemorySegment cap = capture();
        int r;
        try {
            r = (int) MPROTECT.invokeExact(cap, MemorySegment.ofAddress(address), length, prot);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r == -1 || ev.shouldCommit()) {
            finish(ev, "mprotect", Fmt.hex(address) + ", " + length + ", " + Fmt.prot(prot), r, cap);
        }
    }

    /**
     * The system page size, from {@code sysconf(_SC_PAGESIZE)}, read once.
     *
     * @return bytes per page, 4096 on x86_64
     */
    public static long pageSize() {
        return PAGE_SIZE;
    }

    /**
     * A native segment over memory that pkrseq did not allocate: another thread's struct rseq, a loader
     * structure, a symbol. The caller answers for the address being mapped and alive.
     *
     * @param address start
     * @param size bytes
     * @return a segment of the global scope
     */
    public static MemorySegment memory(long address, long size) {
        return MemorySegment.ofAddress(address).reinterpret(size);
    }

    /**
     * A native segment over memory that pkrseq mapped itself, bound to an arena: when the arena closes,
     * the segment becomes inaccessible and {@code cleanup} runs (on the closing thread, or on a cleaner
     * thread for an automatic arena). This is how page-backed memory is unmapped with its arena.
     *
     * @param address start
     * @param size bytes
     * @param arena the arena whose closing ends the segment's life
     * @param cleanup what to run when the arena closes, for example an munmap; it must not throw
     * @return the segment, of the arena's scope
     * @throws IllegalStateException when the arena is already closed (the cleanup has then not run)
     */
    public static MemorySegment memory(long address, long size, Arena arena, Runnable cleanup) {
        return MemorySegment.ofAddress(address).reinterpret(size, arena, s -> cleanup.run());
    }

    // ---- File descriptors ---------------------------------------------------------------------

    /**
     * {@code pipe2(fds, flags)}.
     *
     * @param flags {@link #O_CLOEXEC}, {@link #O_NONBLOCK}
     * @return {read end, write end}
     */
    public static int[] pipe2(int flags) {
        NativeCallEvent ev = begin();
        PerThread t = PER_THREAD.get();
        int r;
        try {
            r = (int) PIPE2.invokeExact(t.capture, t.scratch, flags);
        } catch (Throwable e) {
            throw rethrow(e);
        }
        if (r == -1 || ev.shouldCommit()) {
            finish(ev, "pipe2", "fds, " + Fmt.hex(flags), r, t.capture);
        }
        return new int[] {t.scratch.get(JAVA_INT, 0), t.scratch.get(JAVA_INT, 4)};
    }

    /**
     * {@code read(fd, buf, count)}: the kernel writes into {@code buf}, with the calling thread's rights.
     *
     * @param fd file descriptor
     * @param buffer destination address
     * @param count bytes
     * @return bytes read
     * @throws NativeException EFAULT when the thread may not write {@code buf}
     */
    public static long read(int fd, long buffer, long count) {
        NativeCallEvent ev = begin();
        MemorySegment cap = capture();
        long r;
        try {
            r = (long) READ.invokeExact(cap, fd, MemorySegment.ofAddress(buffer), count);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r == -1 || ev.shouldCommit()) {
            finish(ev, "read", fd + ", " + Fmt.hex(buffer) + ", " + count, r, cap);
        }
        return r;
    }

    /**
     * {@code write(fd, buf, count)}: the kernel reads from {@code buf}, with the calling thread's rights.
     *
     * @param fd file descriptor
     * @param buffer source address
     * @param count bytes
     * @return bytes written
     * @throws NativeException EFAULT when the thread may not read {@code buf}
     */
    public static long write(int fd, long buffer, long count) {
        NativeCallEvent ev = begin();
        MemorySegment cap = capture();
        long r;
        try {
            r = (long) WRITE.invokeExact(cap, fd, MemorySegment.ofAddress(buffer), count);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r == -1 || ev.shouldCommit()) {
            finish(ev, "write", fd + ", " + Fmt.hex(buffer) + ", " + count, r, cap);
        }
        return r;
    }

    /**
     * {@code close(fd)}.
     *
     * @param fd file descriptor
     */
    public static void close(int fd) {
        NativeCallEvent ev = begin();
        MemorySegment cap = capture();
        int r;
        try {
            r = (int) CLOSE.invokeExact(cap, fd);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r == -1 || ev.shouldCommit()) {
            finish(ev, "close", Integer.toString(fd), r, cap);
        }
    }

    // ---- Scheduling ---------------------------------------------------------------------------

    /**
     * glibc's {@code sched_getcpu()}: a critical downcall. glibc 2.35+ answers from the thread's rseq
     * area, older ones from the vDSO.
     *
     * @return the CPU the thread ran on during the call
     */
    public static int schedGetcpu() {
        NativeCallEvent ev = begin();
        int r;
        try {
            r = (int) SCHED_GETCPU.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r < 0 || ev.shouldCommit()) {
            finishCritical(ev, "sched_getcpu", "", r, () -> (int) SCHED_GETCPU_ERRNO.invokeExact(capture()));
        }
        return r;
    }

    /**
     * The {@code getcpu(2)} system call itself, bypassing glibc, rseq and the vDSO.
     *
     * @return the CPU and NUMA node
     */
    public static CpuNode getcpu() {
        NativeCallEvent ev = begin();
        PerThread t = PER_THREAD.get();
        long r;
        try {
            r = (long) SYSCALL_3.invokeExact(t.capture, (long) Syscall.GETCPU.number(), t.scratch.address(),
                    t.scratch.address() + 4, 0L);
        } catch (Throwable e) {
            throw rethrow(e);
        }
        if (r == -1 || ev.shouldCommit()) {
            finish(ev, "getcpu", "&cpu, &node, NULL", r, t.capture);
        }
        return new CpuNode(t.scratch.get(JAVA_INT, 0), t.scratch.get(JAVA_INT, 4));
    }

    /**
     * {@code sched_getaffinity(tid, ...)}.
     *
     * @param tid thread id, 0 for the calling thread
     * @return the CPUs the thread may run on
     */
    public static BitSet schedGetaffinity(int tid) {
        NativeCallEvent ev = begin();
        PerThread t = PER_THREAD.get();
        t.scratch.fill((byte) 0);
        int r;
        try {
            r = (int) SCHED_GETAFFINITY.invokeExact(t.capture, tid, SCRATCH_SIZE, t.scratch);
        } catch (Throwable e) {
            throw rethrow(e);
        }
        if (r == -1 || ev.shouldCommit()) {
            finish(ev, "sched_getaffinity", tid + ", " + SCRATCH_SIZE + ", mask", r, t.capture);
        }
        return BitSet.valueOf(t.scratch.toArray(JAVA_LONG));
    }

    /**
     * {@code sched_setaffinity(tid, ...)}.
     *
     * @param tid thread id, 0 for the calling thread
     * @param cpus the CPUs the thread may run on
     */
    public static void schedSetaffinity(int tid, BitSet cpus) {
        NativeCallEvent ev = begin();
        PerThread t = PER_THREAD.get();
        t.scratch.fill((byte) 0);
        long[] words = cpus.toLongArray();
        if (words.length * 8L > SCRATCH_SIZE) {
            throw new IllegalArgumentException("CPU set too large: " + cpus.length() + " CPUs");
        }
        MemorySegment.copy(words, 0, t.scratch, JAVA_LONG, 0, words.length);
        int r;
        try {
            r = (int) SCHED_SETAFFINITY.invokeExact(t.capture, tid, SCRATCH_SIZE, t.scratch);
        } catch (Throwable e) {
            throw rethrow(e);
        }
        if (r == -1 || ev.shouldCommit()) {
            finish(ev, "sched_setaffinity", tid + ", " + SCRATCH_SIZE + ", " + cpus, r, t.capture);
        }
    }

    /**
     * {@code sched_setscheduler(tid, policy, &{priority})}: one thread's scheduling policy.
     *
     * @param tid thread id, 0 for the calling thread
     * @param policy for example {@link #SCHED_IDLE}, which any thread may take for itself
     * @param priority 0 for the normal policies, SCHED_IDLE among them
     * @throws NativeException EPERM without the privilege a policy needs, EINVAL for a bad policy or
     *     priority, ESRCH for no such thread
     */
    public static void schedSetscheduler(int tid, int policy, int priority) {
        NativeCallEvent ev = begin();
        PerThread t = PER_THREAD.get();
        t.scratch.set(JAVA_INT, 0, priority);
        int r;
        try {
            r = (int) SCHED_SETSCHEDULER.invokeExact(t.capture, tid, policy, t.scratch);
        } catch (Throwable e) {
            throw rethrow(e);
        }
        if (r == -1 || ev.shouldCommit()) {
            finish(ev, "sched_setscheduler", tid + ", " + policy + ", {" + priority + "}", r, t.capture);
        }
    }

    /**
     * {@code futex(word, FUTEX_WAKE_PRIVATE, count)}: wakes threads of this process sleeping in
     * {@code FUTEX_WAIT} on a 32-bit word, all at once in the kernel.
     *
     * @param word the futex word, 4-byte aligned native memory
     * @param count how many to wake at most, {@link Integer#MAX_VALUE} for all
     * @return how many were woken
     */
    public static int futexWake(MemorySegment word, int count) {
        NativeCallEvent ev = begin();
        MemorySegment cap = capture();
        long r;
        try {
            r = (long) SYSCALL_3.invokeExact(cap, (long) Syscall.FUTEX.number(), word.address(), (long) FUTEX_WAKE_PRIVATE,
                    (long) count);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r == -1 || ev.shouldCommit()) {
            finish(ev, "futex", Fmt.hex(word.address()) + ", FUTEX_WAKE_PRIVATE, " + count, r, cap);
        }
        return (int) r;
    }

    /** {@code sched_yield()}. */
    public static void schedYield() {
        NativeCallEvent ev = begin();
        MemorySegment cap = capture();
        int r;
        try {
            r = (int) SCHED_YIELD.invokeExact(cap);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r == -1 || ev.shouldCommit()) {
            finish(ev, "sched_yield", "", r, cap);
        }
    }

    // ---- futex --------------------------------------------------------------------------------

    /** {@code FUTEX_WAKE_OP}. */
    public static final int FUTEX_WAKE_OP = 5;
    /** {@code FUTEX_PRIVATE_FLAG}: the futex word is private to this process, no page lookup. */
    public static final int FUTEX_PRIVATE_FLAG = 128;
    /** {@code FUTEX_OP_ADD}: the operation of a FUTEX_WAKE_OP adds its argument to the word. */
    public static final int FUTEX_OP_ADD = 1;
    /** {@code FUTEX_OP_CMP_EQ}: the comparison of a FUTEX_WAKE_OP. */
    public static final int FUTEX_OP_CMP_EQ = 0;

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
     * where a waiter is queued. Allocates nothing after the thread's first call into this class.
     *
     * @param uaddr2 the 4-byte aligned word the operation changes
     * @param op {@link #futexOp}
     * @return the number of waiters woken
     * @throws NativeException EFAULT when the thread may not write {@code uaddr2}, EINVAL for an unaligned
     *     word
     */
    public static int futexWakeOp(long uaddr2, int op) {
        return futexWakeOp(PER_THREAD.get().scratch.address() + SCRATCH_SIZE - 8, 0, 0, uaddr2, op);
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
     */
    public static int futexWakeOp(long uaddr, int nrWake, int nrWake2, long uaddr2, int op) {
        NativeCallEvent ev = begin();
        MemorySegment cap = capture();
        long r;
        try {
            r = (long) SYSCALL_6.invokeExact(cap, (long) Syscall.FUTEX.number(), uaddr,
                    (long) (FUTEX_WAKE_OP | FUTEX_PRIVATE_FLAG), (long) nrWake, (long) nrWake2, uaddr2, (long) op);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r == -1 || ev.shouldCommit()) {
            finish(ev, "futex", Fmt.hex(uaddr) + ", FUTEX_WAKE_OP|FUTEX_PRIVATE_FLAG, " + nrWake + ", " + nrWake2 + ", "
                    + Fmt.hex(uaddr2) + ", " + Fmt.hex(op & 0xffffffffL), r, cap);
        }
        return (int) r;
    }

    // ---- rseq ---------------------------------------------------------------------------------

    /**
     * The {@code rseq(2)} system call: registers or, with {@link #RSEQ_FLAG_UNREGISTER}, unregisters
     * the calling thread's struct rseq.
     *
     * @param area the struct rseq, or 0
     * @param length its length
     * @param flags 0 or {@link #RSEQ_FLAG_UNREGISTER}
     * @param signature the abort signature
     * @throws NativeException EINVAL, EBUSY, EPERM, EFAULT or ENOSYS as the kernel decides
     */
    public static void rseq(long area, int length, int flags, int signature) {
        NativeCallEvent ev = begin();
        MemorySegment cap = capture();
        long r;
        try {
            r = (long) SYSCALL_4.invokeExact(cap, (long) Syscall.RSEQ.number(), area, (long) length, (long) flags,
                    (long) signature);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r == -1 || ev.shouldCommit()) {
            finish(ev, "rseq", Fmt.hex(area) + ", " + length + ", " + flags + ", " + Fmt.hex(signature & 0xffffffffL), r, cap);
        }
    }

    /**
     * The {@code membarrier(2)} system call. It may block (it waits for interprocessor interrupts, and a
     * first registration for an RCU grace period), so its handle is not critical.
     *
     * @param cmd a {@code MEMBARRIER_CMD_*} command
     * @param flags 0, or {@link #MEMBARRIER_CMD_FLAG_CPU} with {@link #MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ}
     * @param cpuId the CPU, when {@code flags} is {@link #MEMBARRIER_CMD_FLAG_CPU}
     * @return what the kernel returned: 0, or a bit mask for the query commands
     * @throws NativeException EINVAL for a command this kernel lacks or a bad flag, EPERM for an expedited
     *     command the process did not register, ENOSYS without membarrier, ENOMEM
     */
    public static int membarrier(int cmd, int flags, int cpuId) {
        NativeCallEvent ev = begin();
        MemorySegment cap = capture();
        long r;
        try {
            r = (long) SYSCALL_3.invokeExact(cap, (long) Syscall.MEMBARRIER.number(), (long) cmd, (long) flags,
                    (long) cpuId);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r == -1 || ev.shouldCommit()) {
            finish(ev, "membarrier", membarrierCommand(cmd) + ", " + (flags == MEMBARRIER_CMD_FLAG_CPU
                    ? "MEMBARRIER_CMD_FLAG_CPU" : Integer.toString(flags)) + ", " + cpuId, r, cap);
        }
        return (int) r;
    }

    private static String membarrierCommand(int cmd) {
        return switch (cmd) {
            case MEMBARRIER_CMD_QUERY -> "MEMBARRIER_CMD_QUERY";
            case MEMBARRIER_CMD_PRIVATE_EXPEDITED -> "MEMBARRIER_CMD_PRIVATE_EXPEDITED";
            case MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED -> "MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED";
            case MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ -> "MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ";
            case MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ -> "MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ";
            case MEMBARRIER_CMD_GET_REGISTRATIONS -> "MEMBARRIER_CMD_GET_REGISTRATIONS";
            default -> Integer.toString(cmd);
        };
    }

    /**
     * Reads a C {@code long} or pointer-sized global exported by the C library, such as
     * {@code __rseq_offset}.
     *
     * @param name the symbol
     * @return its value, or empty when the C library does not export it
     */
    public static OptionalLong longSymbol(String name) {
        return LIBC.find(name).map(s -> OptionalLong.of(s.reinterpret(8).get(JAVA_LONG, 0))).orElse(OptionalLong.empty());
    }

    /**
     * Reads a C {@code int} global exported by the C library, such as {@code __rseq_size}.
     *
     * @param name the symbol
     * @return its value, or empty when the C library does not export it
     */
    public static OptionalInt intSymbol(String name) {
        return LIBC.find(name).map(s -> OptionalInt.of(s.reinterpret(4).get(JAVA_INT, 0))).orElse(OptionalInt.empty());
    }

    // ---- Threads and process ------------------------------------------------------------------

    /**
     * The calling thread's thread pointer: {@code arch_prctl(ARCH_GET_FS)} on x86_64, which is also the
     * address of its TCB and equals {@code pthread_self()} under glibc.
     *
     * @return fs_base
     * @throws UnsupportedOperationException on other architectures
     */
    public static long threadPointer() {
        NativeCallEvent ev = begin();
        PerThread t = PER_THREAD.get();
        long r;
        try {
            r = (long) SYSCALL_2.invokeExact(t.capture, (long) Syscall.ARCH_PRCTL.number(), (long) ARCH_GET_FS,
                    t.scratch.address());
        } catch (Throwable e) {
            throw rethrow(e);
        }
        if (r == -1 || ev.shouldCommit()) {
            finish(ev, "arch_prctl", "ARCH_GET_FS, &fs", r, t.capture);
        }
        return t.scratch.get(JAVA_LONG, 0);
    }

    /**
     * {@code pthread_self()}.
     *
     * @return the calling thread's pthread_t, which glibc makes the TCB address
     */
    public static long pthreadSelf() {
        NativeCallEvent ev = begin();
        long r;
        try {
            r = (long) PTHREAD_SELF.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (ev.shouldCommit()) {
            ev.commit("pthread_self", "", r, 0);
        }
        return r;
    }

    /**
     * The calling thread's stack as glibc knows it: {@code pthread_getattr_np(pthread_self())} and
     * {@code pthread_attr_getstack}. For a thread glibc created, the range is the whole stack block
     * without its guard, so it also holds the thread's TCB and static TLS, which glibc places at the top;
     * for the process's initial thread glibc reads /proc/self/maps and the stack limit.
     *
     * @return the usable stack, lowest address first
     * @throws NativeException with the error number the pthread function returned
     */
    public static ThreadStack threadStack() {
        NativeCallEvent ev = begin();
        PerThread t = PER_THREAD.get();
        MemorySegment attr = t.scratch.asSlice(0, PTHREAD_ATTR_SPACE);
        MemorySegment addr = t.scratch.asSlice(PTHREAD_ATTR_SPACE, 8);
        MemorySegment size = t.scratch.asSlice(PTHREAD_ATTR_SPACE + 8, 8);
        long self;
        int r;
        try {
            self = (long) PTHREAD_SELF.invokeExact();
            r = (int) PTHREAD_GETATTR_NP.invokeExact(self, attr);
        } catch (Throwable e) {
            throw rethrow(e);
        }
        if (r != 0) {
            finishReturned(ev, "pthread_getattr_np", Fmt.hex(self) + ", &attr", r);
        }
        try {
            r = (int) PTHREAD_ATTR_GETSTACK.invokeExact(attr, addr, size);
            int ignored = (int) PTHREAD_ATTR_DESTROY.invokeExact(attr);
        } catch (Throwable e) {
            throw rethrow(e);
        }
        if (r != 0 || ev.shouldCommit()) {
            finishReturned(ev, "pthread_attr_getstack", "&attr, &addr, &size", r);
        }
        long low = addr.get(JAVA_LONG, 0);
        return new ThreadStack(low, low + size.get(JAVA_LONG, 0));
    }

    /**
     * {@code gettid()}.
     *
     * @return the calling thread's kernel task id
     */
    public static int gettid() {
        NativeCallEvent ev = begin();
        int r;
        try {
            r = (int) GETTID.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (ev.shouldCommit()) {
            ev.commit("gettid", "", r, 0);
        }
        return r;
    }

    /**
     * {@code getpid()}.
     *
     * @return the process id
     */
    public static int getpid() {
        NativeCallEvent ev = begin();
        int r;
        try {
            r = (int) GETPID.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (ev.shouldCommit()) {
            ev.commit("getpid", "", r, 0);
        }
        return r;
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
     */
    public static long pthreadSigmask(int how, long set) {
        NativeCallEvent ev = begin();
        PerThread t = PER_THREAD.get();
        MemorySegment in = t.scratch.asSlice(0, SIGSET_SIZE);
        MemorySegment old = t.scratch.asSlice(SIGSET_SIZE, SIGSET_SIZE);
        in.fill((byte) 0);
        old.fill((byte) 0);
        in.set(JAVA_LONG, 0, set);
        int r;
        try {
            r = (int) PTHREAD_SIGMASK.invokeExact(how, in, old);
        } catch (Throwable e) {
            throw rethrow(e);
        }
        if (r != 0 || ev.shouldCommit()) {
            finishReturned(ev, "pthread_sigmask", how + ", " + Fmt.hex(set) + ", &old", r);
        }
        return old.get(JAVA_LONG, 0);
    }

    /**
     * {@code tgkill(tgid, tid, sig)}: sends a signal to one thread.
     *
     * @param tgid the process id
     * @param tid the thread's kernel task id
     * @param sig the signal
     * @throws NativeException ESRCH when no such thread, EINVAL for a bad signal
     */
    public static void tgkill(int tgid, int tid, int sig) {
        NativeCallEvent ev = begin();
        MemorySegment cap = capture();
        long r;
        try {
            r = (long) SYSCALL_3.invokeExact(cap, (long) Syscall.TGKILL.number(), (long) tgid, (long) tid, (long) sig);
        } catch (Throwable e) {
            throw rethrow(e);
        }
        if (r == -1 || ev.shouldCommit()) {
            finish(ev, "tgkill", tgid + ", " + tid + ", " + sig, r, cap);
        }
    }

    /**
     * {@code __errno_location()}: where the C library keeps the calling thread's errno, which lives in
     * libc's static TLS block.
     *
     * @return the address of this thread's errno
     */
    public static long errnoLocation() {
        NativeCallEvent ev = begin();
        long r;
        try {
            r = ((MemorySegment) ERRNO_LOCATION.invokeExact()).address();
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (ev.shouldCommit()) {
            ev.commit("__errno_location", "", r, 0);
        }
        return r;
    }

    /**
     * {@code getauxval(type)}: a value the kernel passed in the auxiliary vector.
     *
     * @param type an {@code AT_*} constant
     * @return the value, or 0 when the kernel did not pass it
     */
    public static long getauxval(long type) {
        NativeCallEvent ev = begin();
        long r;
        try {
            r = (long) GETAUXVAL.invokeExact(type);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (ev.shouldCommit()) {
            ev.commit("getauxval", Long.toString(type), r, 0);
        }
        return r;
    }

    /**
     * The number of online CPUs, {@code sysconf(_SC_NPROCESSORS_ONLN)}.
     *
     * @return online CPUs, regardless of this thread's affinity
     */
    public static int onlineCpus() {
        return (int) sysconf(SC_NPROCESSORS_ONLN);
    }

    private static long sysconf(int name) {
        NativeCallEvent ev = begin();
        MemorySegment cap = capture();
        long r;
        try {
            r = (long) SYSCONF.invokeExact(cap, name);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r == -1 || ev.shouldCommit()) {
            finish(ev, "sysconf", name == SC_PAGESIZE ? "_SC_PAGESIZE" : name == SC_NPROCESSORS_ONLN ? "_SC_NPROCESSORS_ONLN"
                    : Integer.toString(name), r, cap);
        }
        return r;
    }

    /**
     * {@code uname()}.
     *
     * @return the kernel's names for itself and the machine
     */
    public static Uname uname() {
        NativeCallEvent ev = begin();
        PerThread t = PER_THREAD.get();
        int r;
        try {
            r = (int) UNAME.invokeExact(t.capture, t.scratch);
        } catch (Throwable e) {
            throw rethrow(e);
        }
        if (r == -1 || ev.shouldCommit()) {
            finish(ev, "uname", "&buf", r, t.capture);
        }
        MemorySegment s = t.scratch;
        return new Uname(s.getString(0), s.getString(UTSNAME_FIELD), s.getString(2L * UTSNAME_FIELD),
                s.getString(3L * UTSNAME_FIELD), s.getString(4L * UTSNAME_FIELD), s.getString(5L * UTSNAME_FIELD));
    }

    /**
     * glibc's {@code gnu_get_libc_version()}.
     *
     * @return for example "2.36", or empty with a C library that is not glibc
     */
    public static Optional<String> glibcVersion() {
        if (GNU_GET_LIBC_VERSION == null) {
            return Optional.empty();
        }
        NativeCallEvent ev = begin();
        MemorySegment r;
        try {
            r = (MemorySegment) GNU_GET_LIBC_VERSION.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (ev.shouldCommit()) {
            ev.commit("gnu_get_libc_version", "", r.address(), 0);
        }
        return Optional.of(r.reinterpret(64).getString(0));
    }

    /**
     * {@code strerror(errnum)}, copied at once.
     *
     * @param errnum an errno value
     * @return the C library's text for it
     */
    public static String strerror(int errnum) {
        MemorySegment r;
        try {
            r = (MemorySegment) STRERROR.invokeExact(errnum);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return r.reinterpret(1024).getString(0);
    }

    // ---- Loader -------------------------------------------------------------------------------

    /**
     * glibc's {@code _dl_get_tls_static_info(&size, &align)} (GLIBC_PRIVATE): the size of the static TLS
     * area each thread gets, TCB included, and its alignment.
     *
     * @return the sizes, or empty where the C library does not export the function
     */
    public static Optional<TlsStaticInfo> tlsStaticInfo() {
        if (DL_GET_TLS_STATIC_INFO == null) {
            return Optional.empty();
        }
        NativeCallEvent ev = begin();
        PerThread t = PER_THREAD.get();
        try {
            DL_GET_TLS_STATIC_INFO.invokeExact(t.scratch, t.scratch.asSlice(8));
        } catch (Throwable e) {
            throw rethrow(e);
        }
        TlsStaticInfo info = new TlsStaticInfo(t.scratch.get(JAVA_LONG, 0), t.scratch.get(JAVA_LONG, 8));
        if (ev.shouldCommit()) {
            ev.commit("_dl_get_tls_static_info", "&size, &align", info.size(), 0);
        }
        return Optional.of(info);
    }

    /**
     * {@code dl_iterate_phdr}: every object the dynamic loader has mapped, with its PT_TLS segment and
     * the calling thread's TLS block for it.
     *
     * @return the objects in the loader's order, the main program first
     */
    public static List<ElfModule> loadedModules() {
        NativeCallEvent ev = begin();
        PhdrWalk walk = new PhdrWalk();
        PHDR_WALK.set(walk);
        int r;
        try {
            r = (int) DL_ITERATE_PHDR.invokeExact(PHDR_CALLBACK, MemorySegment.NULL);
        } catch (Throwable t) {
            throw rethrow(t);
        } finally {
            PHDR_WALK.remove();
        }
        if (ev.shouldCommit()) {
            ev.commit("dl_iterate_phdr", "callback, NULL", r, 0);
        }
        if (walk.failure != null) {
            throw new IllegalStateException("reading dl_iterate_phdr results failed", walk.failure);
        }
        return List.copyOf(walk.modules);
    }

    private static final class PhdrWalk {
        final List<ElfModule> modules = new ArrayList<>();
        Throwable failure;
    }

    // An exception escaping an upcall kills the JVM: catch everything and stop the walk instead.
    private static int onPhdr(MemorySegment infoAddress, long size, MemorySegment data) {
        PhdrWalk walk = PHDR_WALK.get();
        try {
            MemorySegment info = infoAddress.reinterpret(size);
            long base = info.get(JAVA_LONG, 0);
            MemorySegment namePtr = info.get(ADDRESS, 8);
            String name = namePtr.equals(MemorySegment.NULL) ? "" : namePtr.reinterpret(4096).getString(0);
            MemorySegment phdrs = info.get(ADDRESS, 16);
            int phnum = Short.toUnsignedInt(info.get(JAVA_SHORT, 24));
            long modid = size >= 56 ? info.get(JAVA_LONG, 48) : 0;
            long tlsData = size >= 64 ? info.get(JAVA_LONG, 56) : 0;
            MemorySegment table = phdrs.reinterpret(56L * phnum);
            ElfModule.TlsSegment tls = null;
            for (int i = 0; i < phnum; i++) {
                long p = 56L * i;
                if (table.get(JAVA_INT, p) == PT_TLS) {
                    tls = new ElfModule.TlsSegment(table.get(JAVA_LONG, p + 16), table.get(JAVA_LONG, p + 32),
                            table.get(JAVA_LONG, p + 40), table.get(JAVA_LONG, p + 48));
                }
            }
            walk.modules.add(new ElfModule(name, base, phnum, modid, tlsData, tls));
            return 0;
        } catch (Throwable t) {
            if (walk != null) {
                walk.failure = t;
            }
            return 1;
        }
    }

    private static MemorySegment phdrCallback() {
        try {
            MethodHandle target = MethodHandles.lookup().findStatic(Sys.class, "onPhdr",
                    MethodType.methodType(int.class, MemorySegment.class, long.class, MemorySegment.class));
            return LINKER.upcallStub(target, FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS), Arena.global());
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    // ---- Generated code -----------------------------------------------------------------------

    /**
     * A downcall handle for machine code at an address, such as code pkrseq generated at run time.
     *
     * @param function the code's entry point, in an executable mapping
     * @param descriptor its C signature
     * @param critical true only for code that never blocks and never calls back
     * @return the handle; build it once and keep it
     */
    public static MethodHandle downcall(MemorySegment function, FunctionDescriptor descriptor, boolean critical) {
        return critical ? LINKER.downcallHandle(function, descriptor, CRITICAL) : LINKER.downcallHandle(function, descriptor);
    }

    // ---- Plumbing -----------------------------------------------------------------------------

    private static NativeCallEvent begin() {
        NativeCallEvent ev = new NativeCallEvent();
        ev.begin();
        return ev;
    }

    private static MemorySegment capture() {
        return PER_THREAD.get().capture;
    }

    /** Records the event if wanted and throws when the call returned -1. Slow path only. */
    private static void finish(NativeCallEvent ev, String function, String arguments, long result, MemorySegment cap) {
        int errno = result == -1 ? (int) ERRNO.get(cap, 0L) : 0;
        if (ev.shouldCommit()) {
            ev.commit(function, arguments, result, errno);
        }
        if (result == -1) {
            throw new NativeException(function, arguments, errno);
        }
    }

    /** For functions that return an error number instead of setting errno (pthread_*). */
    private static void finishReturned(NativeCallEvent ev, String function, String arguments, int result) {
        if (ev.shouldCommit()) {
            ev.commit(function, arguments, result, result);
        }
        if (result != 0) {
            throw new NativeException(function, arguments, result);
        }
    }

    @FunctionalInterface
    private interface Retry {
        int call() throws Throwable;
    }

    /** For handles without capture: repeats a failed call through a capturing handle to learn errno. */
    private static void finishCritical(NativeCallEvent ev, String function, String arguments, int result, Retry retry) {
        int errno = 0;
        if (result < 0) {
            int again;
            try {
                again = retry.call();
            } catch (Throwable t) {
                throw rethrow(t);
            }
            errno = again < 0 ? (int) ERRNO.get(capture(), 0L) : 0;
        }
        if (ev.shouldCommit()) {
            ev.commit(function, arguments, result, errno);
        }
        if (result < 0) {
            throw new NativeException(function, arguments, errno);
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException re) {
            throw re;
        }
        if (t instanceof Error e) {
            throw e;
        }
        throw new AssertionError("native call threw a checked exception", t);
    }

    private static MemorySegment symbol(String name) {
        return LIBC.find(name).orElseThrow(() -> new UnsatisfiedLinkError("C library function not found: " + name));
    }

    private static MethodHandle errno(String name, FunctionDescriptor fd, Linker.Option... extra) {
        Linker.Option[] options = new Linker.Option[extra.length + 1];
        options[0] = CAPTURE_ERRNO;
        System.arraycopy(extra, 0, options, 1, extra.length);
        return LINKER.downcallHandle(symbol(name), fd, options);
    }

    private static MethodHandle critical(String name, FunctionDescriptor fd) {
        return LINKER.downcallHandle(symbol(name), fd, CRITICAL);
    }

    private static MethodHandle plain(String name, FunctionDescriptor fd) {
        return LINKER.downcallHandle(symbol(name), fd);
    }

    private static MethodHandle optional(String name, FunctionDescriptor fd) {
        return LIBC.find(name).map(s -> LINKER.downcallHandle(s, fd)).orElse(null);
    }
}
