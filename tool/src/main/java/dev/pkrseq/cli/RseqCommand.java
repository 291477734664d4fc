package dev.pkrseq.cli;

import dev.pkrseq.Platform;
import dev.pkrseq.UnavailableException;
import java.io.PrintWriter;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.Callable;

import dev.pkrseq.rseq.Owner;
import dev.pkrseq.rseq.Rseq;
import dev.pkrseq.rseq.RseqArea;
import dev.pkrseq.rseq.RseqAvailability;
import dev.pkrseq.rseq.RseqRegistry;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code pkrseq rseq}: who registered this thread's struct rseq, its fields, and pkrseq's own pool. */
@Command(name = "rseq", mixinStandardHelpOptions = true,
        description = {"Show this thread's struct rseq and who registered it.",
                "",
                "Who registered the area, the C library's and the kernel's sizes, the fields as the kernel last "
                        + "wrote them, and the state of pkrseq's own registration pool."})
final class RseqCommand implements Callable<Integer> {
    @Option(names = "--register",
            description = "Where nobody registered this thread (GLIBC_TUNABLES=glibc.pthread.rseq=0, musl, ...), "
                    + "register it with pkrseq's own area for the report, then unregister it.")
    boolean register;

    @Mixin
    ReportOutput output;

    /**
     * What {@code pkrseq rseq} shows.
     *
     * @param owner "glibc", "pkrseq" or "none"
     * @param kernelSupportsRseq true where rseq(NULL, 0, 0, 0) gives EINVAL, false where it gives ENOSYS, null
     *     where something denies it (any other errno: the kernel's answer is unknown then)
     * @param reason why rseq does not work here, naming the errno; null where it works
     * @param offset {@code __rseq_offset}, null when not exported
     * @param size {@code __rseq_size}, null when not exported
     * @param featureSize {@code AT_RSEQ_FEATURE_SIZE}, null before Linux 6.3
     * @param align {@code AT_RSEQ_ALIGN}, null before Linux 6.3
     * @param signature the signature pkrseq registers with, as hex
     * @param thread the calling thread and its fields
     * @param pool pkrseq's own registration pool
     */
    record Report(String owner, Boolean kernelSupportsRseq, String reason, Long offset, Integer size, Integer featureSize,
            Integer align, String signature, ThreadFields thread, Pool pool) {
    }

    /**
     * The calling thread's struct rseq.
     *
     * @param name thread name
     * @param tid kernel task id
     * @param registeredForReport true when {@code --register} registered it just for this report
     * @param address the area as hex, null when not registered
     * @param coveredLength bytes registered and written by the kernel, null when not registered
     * @param cpuIdStart {@code cpu_id_start}
     * @param cpuId {@code cpu_id}
     * @param rseqCs {@code rseq_cs} as hex
     * @param flags {@code flags}
     * @param nodeId {@code node_id}, null when not covered
     * @param mmCid {@code mm_cid}, null when not covered
     * @param reason why fields are absent; null when all are present
     */
    record ThreadFields(String name, int tid, boolean registeredForReport, String address, Integer coveredLength,
            Integer cpuIdStart, Integer cpuId, String rseqCs, Integer flags, Integer nodeId, Integer mmCid, String reason) {
    }

    /**
     * pkrseq's own registration pool.
     *
     * @param areaLength the length each registration passes to the kernel
     * @param alignment each area's alignment
     * @param coveredLength bytes of each area the kernel fills in
     * @param pages pages mapped (never unmapped)
     * @param areas areas in those pages
     * @param free areas that may be handed out
     * @param registered areas registered for live threads
     * @param ended areas of threads that ended without unregistering, waiting for their task to exit
     * @param inUse the areas that are not free
     */
    record Pool(int areaLength, int alignment, int coveredLength, int pages, int areas, int free, int registered,
            int ended, List<PoolEntry> inUse) {
    }

    /**
     * One area of the pool that is not free.
     *
     * @param address as hex
     * @param state "registered" or "ended"
     * @param tid the thread's kernel task id
     * @param thread the thread's name
     */
    record PoolEntry(String address, String state, int tid, String thread) {
    }

    @Mixin
    Progress.Options progress;

    @Override
    public Integer call() {
        if (!Platform.architectureSupported()) {
            throw new UnavailableException(UnavailableException.Feature.ARCHITECTURE, "rseq: " + Platform.architecture() + " is not supported");
        }
        Owner owner = Rseq.owner();
        boolean registered = register && owner == Owner.NONE;
        if (register && !registered) {
            try (Progress p = Progress.of(output.spec, progress)) {
                p.note("--register did not register: " + owner + " registered this thread already, and the kernel takes"
                        + " one area per thread (a second rseq() fails with EINVAL); the report shows " + owner + "'s area."
                        + (owner == Owner.GLIBC ? " For pkrseq's own: GLIBC_TUNABLES=glibc.pthread.rseq=0 pkrseq rseq --register"
                                : ""));
            }
        }
        Report report;
        if (registered) {
            Rseq.register();
            try {
                report = report(true);
            } finally {
                Rseq.unregister();
            }
        } else {
            report = report(false);
        }
        output.print("rseq", report, RseqCommand::print);
        return 0;
    }

    static Report report(boolean registeredForReport) {
        Optional<RseqArea> area = Rseq.current();
        Thread t = Thread.currentThread();
        ThreadFields fields;
        if (area.isPresent()) {
            RseqArea a = area.get();
            String note = a.coversMmCid() ? null : "node_id and mm_cid are not covered: " + a.owner() + " registered "
                    + a.coveredLength() + " usable bytes" + (a.owner() == Owner.GLIBC ? " (__rseq_size " + Rseq.glibcSize()
                    + ", the original ABI)" : "") + "; pkrseq's own registration covers "
                    + Rseq.registrationCoveredLength() + " (run with GLIBC_TUNABLES=glibc.pthread.rseq=0 and --register)";
            fields = new ThreadFields(t.getName(), a.tid(), registeredForReport, TlsReport.hex(a.address()),
                    a.coveredLength(), a.cpuIdStart(), a.cpuId(), TlsReport.hex(a.rseqCs()), a.flags(), boxed(a.nodeId()),
                    boxed(a.mmCid()), note);
        } else {
            fields = new ThreadFields(t.getName(), Platform.currentTid(), false, null, null, null, null, null, null, null, null,
                    "not registered: " + Rseq.whyNotRegistered() + "; --register registers pkrseq's own area for the report");
        }
        RseqRegistry.Snapshot s = RseqRegistry.snapshot();
        List<PoolEntry> entries = s.inUse().stream()
                .map(e -> new PoolEntry(TlsReport.hex(e.address()), e.state().name().toLowerCase(java.util.Locale.ROOT),
                        e.tid(), e.thread()))
                .toList();
        Pool pool = new Pool(s.areaLength(), s.alignment(), Rseq.registrationCoveredLength(), s.pages(), s.slots(), s.free(),
                s.registered(), s.ended(), entries);
        RseqAvailability a = Rseq.availability();
        return new Report(Rseq.owner().toString(), a.denied() ? null : a.available(), a.reason(),
                Rseq.glibcOffset().isPresent() ? Rseq.glibcOffset().getAsLong() : null,
                Rseq.glibcOffset().isPresent() ? Rseq.glibcSize() : null, boxed(Rseq.featureSize()), boxed(Rseq.align()),
                TlsReport.hex(Rseq.signature() & 0xffffffffL), fields, pool);
    }

    static void print(PrintWriter out, Report r) {
        out.println("pkrseq rseq: the calling thread's struct rseq");
        out.println();
        out.println("Registration");
        new Table("", "").limit(1, 90)
                .row("owner", r.owner())
                .row("kernel has rseq", r.kernelSupportsRseq() == null ? "unknown: " + r.reason()
                        : r.kernelSupportsRseq() ? "yes" : "no (ENOSYS: not supported)")
                .row("__rseq_offset", ProbeCommand.orAbsent(r.offset(), "not exported"))
                .row("__rseq_size", r.size() == null ? "none: not exported" : r.size()
                        + (r.size() == 20 || r.size() == 32 ? " (the original ABI: 20 usable bytes)"
                                : r.size() == 0 ? " (glibc registered nothing)" : ""))
                .row("AT_RSEQ_FEATURE_SIZE", ProbeCommand.orAbsent(r.featureSize(), "not passed (kernel before 6.3)"))
                .row("AT_RSEQ_ALIGN", ProbeCommand.orAbsent(r.align(), "not passed (kernel before 6.3)"))
                .row("signature", r.signature())
                .print(out, "  ");
        out.println();
        ThreadFields f = r.thread();
        out.println("This thread (" + f.name() + ", tid " + f.tid() + ")"
                + (f.registeredForReport() ? ": registered by pkrseq for this report, unregistered after" : ""));
        Table t = new Table("", "").limit(1, 90);
        if (f.address() != null) {
            t.row("area", f.address())
                    .row("covered", f.coveredLength() + " bytes")
                    .row("cpu_id_start", f.cpuIdStart())
                    .row("cpu_id", f.cpuId())
                    .row("rseq_cs", f.rseqCs())
                    .row("flags", f.flags())
                    .row("node_id", ProbeCommand.orAbsent(f.nodeId(), "not covered"))
                    .row("mm_cid", ProbeCommand.orAbsent(f.mmCid(), "not covered"));
        } else {
            t.row("area", "none");
        }
        if (f.reason() != null) {
            t.row("note", f.reason());
        }
        t.print(out, "  ");
        out.println();
        Pool p = r.pool();
        out.println("pkrseq's own registration pool");
        new Table("", "").limit(1, 90)
                .row("area length", p.areaLength() + " bytes, aligned to " + p.alignment() + "; " + p.coveredLength()
                        + " covered")
                .row("pages mapped", p.pages() + " (never unmapped)")
                .row("areas", p.areas() + ": " + p.free() + " free, " + p.registered() + " registered, " + p.ended()
                        + " ended (their threads ended without unregistering: held until the task exits)")
                .print(out, "  ");
        if (!p.inUse().isEmpty()) {
            Table u = new Table("ADDRESS", "STATE", "TID", "THREAD");
            for (PoolEntry e : p.inUse()) {
                u.row(e.address(), e.state(), e.tid(), e.thread());
            }
            u.print(out, "    ");
        }
        out.flush();
    }

    private static Integer boxed(OptionalInt v) {
        return v.isPresent() ? v.getAsInt() : null;
    }
}
