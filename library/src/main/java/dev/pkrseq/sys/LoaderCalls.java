package dev.pkrseq.sys;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.pkrseq.NativeException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;

/**
 * The loader, TLS and the C library's own facts: dl_iterate_phdr, _dl_get_tls_static_info, arch_prctl,
 * exported symbols, the auxiliary vector, uname, the glibc version, __errno_location and strerror.
 */
@SuppressWarnings("restricted")
public final class LoaderCalls {
    /**
     * The auxiliary vector's entries pkrseq reads: {@code AT_PAGESZ}, {@code AT_HWCAP2}, and, from Linux 6.3,
     * {@code AT_RSEQ_FEATURE_SIZE} (the size of struct rseq the kernel supports) and {@code AT_RSEQ_ALIGN}
     * (the alignment struct rseq must have).
     */
    public static final long AT_PAGESZ = 6, AT_HWCAP2 = 26, AT_RSEQ_FEATURE_SIZE = 27, AT_RSEQ_ALIGN = 28;

    private static final int ARCH_GET_FS = 0x1003;

    private static final MethodHandle ERRNO_LOCATION =
            Native.critical("__errno_location", FunctionDescriptor.of(ADDRESS));
    private static final MethodHandle GETAUXVAL = Native.critical("getauxval", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG));
    private static final MethodHandle UNAME = Native.errno("uname", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle STRERROR = Native.plain("strerror", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    private static final MethodHandle GNU_GET_LIBC_VERSION =
            Native.optional("gnu_get_libc_version", FunctionDescriptor.of(ADDRESS));
    private static final MethodHandle DL_GET_TLS_STATIC_INFO =
            Native.optional("_dl_get_tls_static_info", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS));
    private static final MethodHandle DL_ITERATE_PHDR =
            Native.plain("dl_iterate_phdr", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MemorySegment PHDR_CALLBACK = phdrCallback();
    private static final ThreadLocal<PhdrWalk> PHDR_WALK = new ThreadLocal<>();

    private static final long PHDR_SIZE = CStructs.ELF64_PHDR.byteSize();

    private LoaderCalls() {
    }

    /**
     * The calling thread's thread pointer: {@code arch_prctl(ARCH_GET_FS)} on x86_64, which is also the
     * address of its TCB and equals {@code pthread_self()} under glibc.
     *
     * @return fs_base
     * @throws UnsupportedOperationException on other architectures
     * @see <a href="https://man7.org/linux/man-pages/man2/arch_prctl.2.html">arch_prctl(2)</a>
     */
    public static long threadPointer() {
        MemorySegment fs = Native.scratch();
        Native.call("arch_prctl", () -> "ARCH_GET_FS, &fs", cap -> (long) Native.SYSCALL_2.invokeExact(cap,
                (long) Syscall.ARCH_PRCTL.number(), (long) ARCH_GET_FS, fs.address()));
        return fs.get(JAVA_LONG, 0);
    }

    /**
     * {@code __errno_location()}: where the C library keeps the calling thread's errno, which lives in
     * libc's static TLS block.
     *
     * @return the address of this thread's errno
     * @see <a href="https://man7.org/linux/man-pages/man3/errno.3.html">errno(3)</a>
     */
    public static long errnoLocation() {
        return Native.fact("__errno_location", Native.NONE,
                () -> ((MemorySegment) ERRNO_LOCATION.invokeExact()).address());
    }

    /**
     * {@code getauxval(type)}: a value the kernel passed in the auxiliary vector.
     *
     * @param type an {@code AT_*} constant
     * @return the value, or 0 when the kernel did not pass it
     * @see <a href="https://man7.org/linux/man-pages/man3/getauxval.3.html">getauxval(3)</a>
     */
    public static long getauxval(long type) {
        return Native.fact("getauxval", () -> Long.toString(type), () -> (long) GETAUXVAL.invokeExact(type));
    }

    /**
     * {@code uname()}.
     *
     * @return the kernel's names for itself and the machine
     * @see <a href="https://man7.org/linux/man-pages/man2/uname.2.html">uname(2)</a>
     */
    public static Uname uname() {
        MemorySegment buf = Native.scratch().asSlice(0, CStructs.UTSNAME);
        Native.call("uname", () -> "&buf", cap -> (int) UNAME.invokeExact(cap, buf));
        return new Uname(field(buf, "sysname"), field(buf, "nodename"), field(buf, "release"), field(buf, "version"),
                field(buf, "machine"), field(buf, "domainname"));
    }

    private static String field(MemorySegment utsname, String name) {
        return utsname.getString(CStructs.offset(CStructs.UTSNAME, name));
    }

    /**
     * glibc's {@code gnu_get_libc_version()}.
     *
     * @return for example "2.36", or empty with a C library that is not glibc
     * @see <a href="https://man7.org/linux/man-pages/man3/gnu_get_libc_version.3.html">gnu_get_libc_version(3)</a>
     */
    public static Optional<String> glibcVersion() {
        if (GNU_GET_LIBC_VERSION == null) {
            return Optional.empty();
        }
        long r = Native.fact("gnu_get_libc_version", Native.NONE,
                () -> ((MemorySegment) GNU_GET_LIBC_VERSION.invokeExact()).address());
        return Optional.of(Native.reinterpret(r, 64).getString(0));
    }

    /**
     * {@code strerror(errnum)}, copied at once. No event: NativeException's message calls it.
     *
     * @param errnum an errno value
     * @return the C library's text for it
     * @see <a href="https://man7.org/linux/man-pages/man3/strerror.3.html">strerror(3)</a>
     */
    public static String strerror(int errnum) {
        MemorySegment r;
        try {
            r = (MemorySegment) STRERROR.invokeExact(errnum);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return r.reinterpret(1024).getString(0);
    }

    /**
     * Reads a C {@code long} or pointer-sized global exported by the C library, such as
     * {@code __rseq_offset}.
     *
     * @param name the symbol
     * @return its value, or empty when the C library does not export it
     */
    public static OptionalLong longSymbol(String name) {
        return Native.LIBC.find(name).map(s -> OptionalLong.of(s.reinterpret(8).get(JAVA_LONG, 0)))
                .orElse(OptionalLong.empty());
    }

    /**
     * Reads a C {@code int} global exported by the C library, such as {@code __rseq_size}.
     *
     * @param name the symbol
     * @return its value, or empty when the C library does not export it
     */
    public static OptionalInt intSymbol(String name) {
        return Native.LIBC.find(name).map(s -> OptionalInt.of(s.reinterpret(4).get(JAVA_INT, 0)))
                .orElse(OptionalInt.empty());
    }

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
        MemorySegment out = Native.scratch();
        Native.fact("_dl_get_tls_static_info", () -> "&size, &align", () -> {
            DL_GET_TLS_STATIC_INFO.invokeExact(out, out.asSlice(8));
            return out.get(JAVA_LONG, 0);
        });
        return Optional.of(new TlsStaticInfo(out.get(JAVA_LONG, 0), out.get(JAVA_LONG, 8)));
    }

    /**
     * {@code dl_iterate_phdr}: every object the dynamic loader has mapped, with its program headers and
     * the calling thread's TLS block for it.
     *
     * @return the objects in the loader's order, the main program first
     * @see <a href="https://man7.org/linux/man-pages/man3/dl_iterate_phdr.3.html">dl_iterate_phdr(3)</a>
     */
    public static List<LoadedObject> loadedObjects() {
        PhdrWalk walk = new PhdrWalk();
        PHDR_WALK.set(walk);
        try {
            Native.fact("dl_iterate_phdr", () -> "callback, NULL",
                    () -> (int) DL_ITERATE_PHDR.invokeExact(PHDR_CALLBACK, MemorySegment.NULL));
        } finally {
            PHDR_WALK.remove();
        }
        if (walk.failure != null) {
            throw new IllegalStateException("reading dl_iterate_phdr results failed", walk.failure);
        }
        return List.copyOf(walk.modules);
    }

    private static final class PhdrWalk {
        final List<LoadedObject> modules = new ArrayList<>();
        Throwable failure;
    }

    // An exception escaping an upcall kills the JVM: catch everything and stop the walk instead.
    private static int onPhdr(MemorySegment infoAddress, long size, MemorySegment data) {
        PhdrWalk walk = PHDR_WALK.get();
        try {
            MemorySegment info = infoAddress.reinterpret(size);
            // dl_phdr_info in its layout's order: addr, name, phdr, phnum, adds, subs, tls_modid, tls_data.
            long[] d = CStructs.read(info, CStructs.DL_PHDR_INFO);
            String name = d[1] == 0 ? "" : Native.reinterpret(d[1], 4096).getString(0);
            int phnum = (int) d[3];
            MemorySegment table = Native.reinterpret(d[2], PHDR_SIZE * phnum);
            List<LoadedObject.ProgramHeader> headers = new ArrayList<>(phnum);
            for (int i = 0; i < phnum; i++) {
                long[] h = CStructs.read(table.asSlice(PHDR_SIZE * i, PHDR_SIZE), CStructs.ELF64_PHDR);
                headers.add(new LoadedObject.ProgramHeader((int) h[0], (int) h[1], h[2], h[3], h[4], h[5], h[6], h[7]));
            }
            walk.modules.add(new LoadedObject(name, d[0], d[6], d[7], List.copyOf(headers)));
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
            MethodHandle target = MethodHandles.lookup().findStatic(LoaderCalls.class, "onPhdr",
                    MethodType.methodType(int.class, MemorySegment.class, long.class, MemorySegment.class));
            return Native.upcall(target, FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
}
