package dev.pkrseq.lab;

import java.util.List;

/**
 * What {@code pkrseq probe} sees in this JVM. Absent features are false or null, never a made-up 0.
 *
 * @param platform the machine and runtime
 * @param pkeys protection-key support
 * @param rseq the calling thread's rseq registration
 * @param thread the calling thread
 * @param experiments observed kernel behaviours, in order
 */
public record ProbeReport(Platform platform, Pkeys pkeys, RseqStatus rseq, ThreadInfo thread,
        List<ExperimentResult> experiments) {

    /**
     * The machine and runtime.
     *
     * @param arch {@code os.arch}, for example "amd64"
     * @param kernel the uname release
     * @param glibc {@code gnu_get_libc_version()}, null with another C library
     * @param pageSize bytes per page
     * @param cpus online CPUs
     * @param jdk {@code java.version}
     */
    public record Platform(String arch, String kernel, String glibc, long pageSize, int cpus, String jdk) {
    }

    /**
     * Protection-key support.
     *
     * @param cpuFlag {@code pku} in /proc/cpuinfo: the CPU has the feature
     * @param osEnabled {@code ospke} in /proc/cpuinfo: the kernel turned it on
     * @param supported pkey_alloc hands out a key
     * @param allocatable keys pkey_alloc hands out now before ENOSPC (all freed again)
     * @param pkru the calling thread's PKRU as hex, null where it cannot be read
     * @param reason why protection keys are unavailable, null when they work
     */
    public record Pkeys(boolean cpuFlag, boolean osEnabled, boolean supported, int allocatable, String pkru,
            String reason) {
    }

    /**
     * The calling thread's rseq registration.
     *
     * @param owner "glibc", "pkrseq" or "none"
     * @param offset {@code __rseq_offset}, null when the C library has none
     * @param size {@code __rseq_size}, null when the C library has none
     * @param featureSize {@code AT_RSEQ_FEATURE_SIZE}, null before Linux 6.3
     * @param align {@code AT_RSEQ_ALIGN}, null before Linux 6.3
     * @param cpuId {@code cpu_id}, null when not registered
     * @param cpuIdStart {@code cpu_id_start}, null when not registered
     * @param nodeId {@code node_id}, null when the registration or the kernel does not cover it
     * @param mmCid {@code mm_cid}, null when the registration or the kernel does not cover it
     * @param reason why the thread is not registered, or which fields are not covered; null otherwise
     */
    public record RseqStatus(String owner, Long offset, Integer size, Integer featureSize, Integer align,
            Integer cpuId, Integer cpuIdStart, Integer nodeId, Integer mmCid, String reason) {
    }

    /**
     * The thread that ran the probe.
     *
     * @param name {@code Thread.getName()}
     * @param tid kernel task id
     * @param threadPointer fs_base as hex, null where the architecture is unsupported
     */
    public record ThreadInfo(String name, int tid, String threadPointer) {
    }
}
