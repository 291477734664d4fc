package dev.pkrseq;

import dev.pkrseq.sys.LoaderCalls;
import dev.pkrseq.sys.MemoryCalls;
import dev.pkrseq.sys.Syscall;
import dev.pkrseq.sys.ThreadCalls;

import java.util.Optional;

/** Facts about the machine and the calling thread that experiments need, without the native layer. */
public final class Platform {
    private Platform() {
    }

    /**
     * The system page size, {@code sysconf(_SC_PAGESIZE)}, read once.
     *
     * @return bytes per page, 4096 on x86_64
     */
    public static long pageSize() {
        return MemoryCalls.pageSize();
    }

    /**
     * The number of online CPUs, {@code sysconf(_SC_NPROCESSORS_ONLN)}.
     *
     * @return online CPUs, regardless of this thread's affinity
     */
    public static int onlineCpus() {
        return ThreadCalls.onlineCpus();
    }

    /**
     * How many CPUs the calling thread may run on, {@code sched_getaffinity(0)}: what bounds the CPUs it
     * can be seen on, where {@link #onlineCpus()} counts them all.
     *
     * @return the CPUs in the calling thread's affinity mask
     */
    public static int allowedCpus() {
        return ThreadCalls.schedGetaffinity(0).cardinality();
    }

    /**
     * Whether pkrseq's native layer knows this architecture's system calls; where it does not, the
     * calls that need them throw {@link UnavailableException} with {@link UnavailableException.Feature#ARCHITECTURE}.
     *
     * @return true on x86_64
     */
    public static boolean architectureSupported() {
        return Syscall.architectureSupported();
    }

    /**
     * The JVM's name for the architecture.
     *
     * @return {@code os.arch}, lower case, for example {@code amd64}
     */
    public static String architecture() {
        return Syscall.architecture();
    }

    /**
     * The calling thread's kernel task id, {@code gettid()}: what /proc/self/task and the kernel's
     * messages name it by. A virtual thread gets its carrier's.
     *
     * @return the tid
     */
    public static int currentTid() {
        return ThreadCalls.gettid();
    }

    /**
     * The kernel release, {@code uname().release}.
     *
     * @return for example {@code 6.18.44}
     */
    public static String kernelRelease() {
        return LoaderCalls.uname().release();
    }

    /**
     * The glibc version, {@code gnu_get_libc_version()}.
     *
     * @return for example {@code 2.36}, or empty with a C library that is not glibc
     */
    public static Optional<String> glibcVersion() {
        return LoaderCalls.glibcVersion();
    }
}
