package dev.pkrseq.observe;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.function.Predicate;

import dev.pkrseq.rseq.Owner;
import dev.pkrseq.rseq.Rseq;
import dev.pkrseq.rseq.RseqAbi;
import dev.pkrseq.rseq.RseqArea;
import dev.pkrseq.sys.NativeException;
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
        boolean cpuFlag = flags.contains(" pku ");
        boolean osEnabled = flags.contains(" ospke ");
        int[] saved = osEnabled ? savedRights() : null;
        List<Integer> keys = new ArrayList<>();
        NativeException stop = null;
        try {
            while (keys.size() < 64) {
                // Rights "no access" are what a fresh key has in every other thread; PKRU is restored below anyway.
                keys.add(Sys.pkeyAlloc(0, Sys.PKEY_DISABLE_ACCESS));
            }
        } catch (NativeException e) {
            stop = e;
        } finally {
            for (int k : keys) {
                Sys.pkeyFree(k);
            }
            if (saved != null) {
                restoreRights(saved);
            }
        }
        boolean supported = !keys.isEmpty();
        String pkru = osEnabled ? String.format("0x%08x", pkruOf(saved)) : null;
        String reason = null;
        if (!supported) {
            reason = (cpuFlag ? "" : "the CPU does not report 'pku'; ") + (osEnabled ? "" : "the kernel did not enable protection keys ('ospke'); ")
                    + (stop == null ? "pkey_alloc handed out no key" : stop.getMessage());
        }
        return new ProbeReport.Pkeys(cpuFlag, osEnabled, supported, keys.size(), pkru, reason);
    }

    private static int[] savedRights() {
        int[] rights = new int[16];
        for (int k = 0; k < 16; k++) {
            rights[k] = Sys.pkeyGet(k);
        }
        return rights;
    }

    private static void restoreRights(int[] saved) {
        for (int k = 1; k < 16; k++) {
            if (Sys.pkeyGet(k) != saved[k]) {
                Sys.pkeySet(k, saved[k]);
            }
        }
    }

    private static int pkruOf(int[] rights) {
        int pkru = 0;
        for (int k = 0; k < 16; k++) {
            pkru |= rights[k] << (2 * k);
        }
        return pkru;
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
        if (Rseq.glibcOffset().isEmpty()) {
            return "the C library exports no __rseq_offset (glibc before 2.35, or musl) and pkrseq has not registered this thread";
        }
        if (Rseq.glibcSize() == 0) {
            return "glibc did not register rseq (__rseq_size is 0; GLIBC_TUNABLES=glibc.pthread.rseq=0?)";
        }
        OptionalInt word = Rseq.glibcCpuIdWord();
        return "glibc's area reports cpu_id " + (word.isPresent() ? word.getAsInt() : "?")
                + " (registration failed or was lost, for example after checkpoint/restore)";
    }

    static ProbeReport.ThreadInfo thread() {
        String tp = Syscall.architectureSupported() ? "0x" + Long.toHexString(Sys.threadPointer()) : null;
        return new ProbeReport.ThreadInfo(Thread.currentThread().getName(), Sys.gettid(), tp);
    }

    private static Integer boxed(OptionalInt v) {
        return v.isPresent() ? v.getAsInt() : null;
    }
}
