package dev.pkrseq.observe;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.function.Predicate;

import dev.pkrseq.pkey.Pkeys;
import dev.pkrseq.pkey.Pkru;
import dev.pkrseq.rseq.Owner;
import dev.pkrseq.rseq.Rseq;
import dev.pkrseq.rseq.RseqAbi;
import dev.pkrseq.rseq.RseqArea;
import dev.pkrseq.sys.Sys;
import dev.pkrseq.sys.Syscall;

/** Builds the {@code pkrseq probe} report for the calling thread. */
public final class Probe {
    private Probe() {
    }

    /**
     * Probes this JVM and runs the selected experiments.
     *
     * @param select which experiments to run, by id
     * @return the report
     */
    public static ProbeReport run(Predicate<String> select) {
        List<ExperimentResult> results = new ArrayList<>();
        for (Experiment e : Experiments.all()) {
            if (select.test(e.id())) {
                results.add(Experiments.run(e));
            }
        }
        return new ProbeReport(platform(), pkeys(), rseq(), thread(), results);
    }

    static ProbeReport.Platform platform() {
        return new ProbeReport.Platform(Syscall.architecture(), Sys.uname().release(), Sys.glibcVersion().orElse(null),
                Sys.pageSize(), Sys.onlineCpus(), System.getProperty("java.version"));
    }

    static ProbeReport.Pkeys pkeys() {
        String flags = Sys.cpuFlags();
        boolean supported = Pkeys.supported();
        boolean platformThread = !Thread.currentThread().isVirtual();
        // allocatableNow() puts back the PKRU bits its pkey_alloc calls change.
        int allocatable = supported && platformThread ? Pkeys.allocatableNow() : 0;
        String pkru = supported && platformThread ? Pkru.current().toString() : null;
        String reason = Pkeys.unavailableReason().orElse(platformThread ? null
                : "the probe ran on a virtual thread, whose PKRU is its carrier's; run it on a platform thread");
        return new ProbeReport.Pkeys(flags.contains(" pku "), flags.contains(" ospke "), supported, allocatable, pkru,
                reason);
    }

    static ProbeReport.RseqStatus rseq() {
        Long offset = Rseq.glibcOffset().isPresent() ? Rseq.glibcOffset().getAsLong() : null;
        Integer size = Rseq.glibcOffset().isPresent() ? Rseq.glibcSize() : null;
        Integer featureSize = boxed(Rseq.featureSize());
        Integer align = boxed(Rseq.align());
        Optional<RseqArea> area = Syscall.architectureSupported() ? Rseq.current() : Optional.empty();
        if (area.isEmpty()) {
            return new ProbeReport.RseqStatus(Owner.NONE.toString(), offset, size, featureSize, align,
                    null, null, null, null, notRegisteredReason());
        }
        RseqArea a = area.get();
        String reason = null;
        if (a.coveredLength() < RseqAbi.MM_CID + 4) {
            reason = "node_id and mm_cid are not covered: " + a.owner() + " registered " + a.coveredLength()
                    + " usable bytes" + (a.owner() == Owner.GLIBC ? " (__rseq_size " + Rseq.glibcSize() + ")" : "")
                    + " and the kernel's feature size is " + Rseq.kernelFeatureSize();
        }
        return new ProbeReport.RseqStatus(a.owner().toString(), offset, size, featureSize, align, a.cpuId(),
                a.cpuIdStart(), boxed(a.nodeId()), boxed(a.mmCid()), reason);
    }

    private static String notRegisteredReason() {
        if (!Syscall.architectureSupported()) {
            return Syscall.architecture() + " is not supported";
        }
        return Rseq.whyNotRegistered();
    }

    static ProbeReport.ThreadInfo thread() {
        String tp = Syscall.architectureSupported() ? "0x" + Long.toHexString(Sys.threadPointer()) : null;
        return new ProbeReport.ThreadInfo(Thread.currentThread().getName(), Sys.gettid(), tp);
    }

    private static Integer boxed(OptionalInt v) {
        return v.isPresent() ? v.getAsInt() : null;
    }
}
