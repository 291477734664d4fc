package dev.pkrseq.lab.pkey;

import dev.pkrseq.lab.ChildReport;
import dev.pkrseq.lab.ChildJvm;
import dev.pkrseq.lab.ThreadProbe;
import dev.pkrseq.lab.AccessProbe;
import dev.pkrseq.lab.DescribedExperiment;
import dev.pkrseq.lab.Experiment;
import dev.pkrseq.lab.ExperimentResult;
import dev.pkrseq.lab.PageKeys;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.function.BiFunction;

import dev.pkrseq.pkey.Hazard;
import dev.pkrseq.KeyInUseException;
import dev.pkrseq.pkey.PageWalk;
import dev.pkrseq.pkey.Pages;
import dev.pkrseq.pkey.Pkeys;
import dev.pkrseq.pkey.Pkru;
import dev.pkrseq.pkey.Protection;
import dev.pkrseq.pkey.ProtectionKey;
import dev.pkrseq.pkey.Rights;
import dev.pkrseq.pkey.RightsScope;
import dev.pkrseq.proc.Smaps;
import dev.pkrseq.Errno;
import dev.pkrseq.NativeException;
import dev.pkrseq.sys.MemoryCalls;
import dev.pkrseq.sys.PkeyCalls;

/**
 * The protection-key experiments of {@code pkrseq probe}, in report order. Each allocates its own keys
 * and pages, observes one behaviour, compares it with what the kernel documents, and frees its keys,
 * unmaps its pages and puts back the calling thread's PKRU. The two that cannot clean up after
 * themselves in this JVM (a real fault, and the kernel's execute-only key, which stays allocated for the
 * life of the process) run in a child JVM.
 */
public final class PkeyExperiments {
    /** How long a child JVM may take; generous, because emulated machines start JVMs slowly. */
    public static final Duration CHILD_TIMEOUT = Duration.ofSeconds(600);

    private static final Protection RW = Protection.READ_WRITE;

    private PkeyExperiments() {
    }

    /**
     * Every protection-key experiment.
     *
     * @return a new list, in report order
     */
    public static List<Experiment> all() {
        return new ArrayList<>(List.of(
                new AllocExhaust(), new SmapsShowsTag(), new KernelReadDenied(), new KernelWriteDenied(),
                new RightsRestored(), new HoleEnomem(), new NewThreadInherits(), new FreeThenReuse(),
                new MprotectKeepsKey(), new ExecOnlyHiddenKey(), new UserFaultInChild()));
    }

    /**
     * The thread-census experiment, {@code pkey.jvm-threads-denied} (see {@link ThreadCensus}).
     *
     * @return a new list of one
     */
    public static List<Experiment> jvmThreads() {
        return List.of(new JvmThreadsExperiment());
    }

    /** Skips where keys do not work, and puts the thread's PKRU back whatever happens. */
    abstract static class PkeyExperiment extends DescribedExperiment {
        PkeyExperiment(String id, String title, String expected) {
            super(id, title, expected);
        }

        @Override
        public ExperimentResult run() throws Exception {
            if (!Pkeys.supported()) {
                return ExperimentResult.skipped(this, "protection keys are not available: "
                        + Pkeys.unavailableReason().orElse("unknown reason"));
            }
            if (Thread.currentThread().isVirtual()) {
                return ExperimentResult.skipped(this, "PKRU experiments need a platform thread; this is a virtual thread");
            }
            Pkru saved = Pkru.current();
            try {
                return observe();
            } finally {
                saved.restore();
            }
        }

        abstract ExperimentResult observe() throws Exception;

        ExperimentResult result(boolean asExpected, String observed, String detail) {
            return ExperimentResult.of(this, asExpected, observed, detail);
        }
    }

    static final class AllocExhaust extends PkeyExperiment {
        AllocExhaust() {
            super("pkey.alloc-exhaust", "pkey_alloc until it fails",
                    "keys 1 to 15, never 0, then ENOSPC; as many as pkeys.allocatable");
        }

        @Override
        ExperimentResult observe() {
            int allocatable = Pkeys.allocatableNow();
            List<ProtectionKey> keys = new ArrayList<>();
            NativeException stop = null;
            try {
                while (keys.size() < 64) {
                    keys.add(ProtectionKey.allocate(Rights.NO_ACCESS));
                }
            } catch (NativeException e) {
                stop = e;
            } finally {
                keys.forEach(ProtectionKey::close);
            }
            List<Integer> numbers = keys.stream().map(ProtectionKey::number).toList();
            boolean inRange = numbers.stream().allMatch(k -> k >= 1 && k <= 15);
            boolean distinct = new HashSet<>(numbers).size() == numbers.size();
            boolean enospc = stop != null && stop.errno() == Errno.ENOSPC;
            String observed = "keys " + compact(numbers) + ", then " + (stop == null ? "no failure" : stop.errno().name())
                    + "; " + numbers.size() + " keys, pkeys.allocatable " + allocatable;
            return result(inRange && distinct && enospc && numbers.size() == allocatable && !numbers.isEmpty(), observed,
                    "allocated in order: " + numbers + (stop == null ? "" : "; then " + stop.getMessage()));
        }
    }

    static final class SmapsShowsTag extends PkeyExperiment {
        SmapsShowsTag() {
            super("pkey.smaps-shows-tag", "tag the middle page of three",
                    "smaps shows the key on the middle page only, in 3 VMAs");
        }

        @Override
        ExperimentResult observe() {
            try (ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE); Arena arena = Arena.ofConfined()) {
                MemorySegment three = Pages.allocate(arena, 3);
                PageKeys before = PageKeys.of(three);
                key.protect(Pages.page(three, 1), RW);
                PageKeys after = PageKeys.of(three);
                int k = key.number();
                boolean ok = after.keys().equals(List.of(0, k, 0)) && after.mappings() == 3;
                return result(ok, "page keys " + after + " (before " + before + ")",
                        "key " + k + ", pages at 0x" + Long.toHexString(three.address()));
            }
        }
    }

    static final class KernelReadDenied extends PkeyExperiment {
        KernelReadDenied() {
            super("pkey.kernel-read-denied", "kernel reads a page under no-access",
                    "write(pipe, page) fails with EFAULT under no-access");
        }

        @Override
        ExperimentResult observe() {
            return onTaggedPage((key, page) -> {
                boolean readBefore = AccessProbe.canRead(page);
                boolean read;
                boolean write;
                try (RightsScope _ = key.withRights(Rights.NO_ACCESS)) {
                    read = AccessProbe.canRead(page);
                    write = AccessProbe.canWrite(page);
                }
                return result(readBefore && !read && !write, "kernel read " + AccessProbe.efault(read)
                        + ", kernel write " + AccessProbe.efault(write) + " (read-write before: read "
                        + AccessProbe.efault(readBefore) + ")", "key " + key.number());
            });
        }
    }

    static final class KernelWriteDenied extends PkeyExperiment {
        KernelWriteDenied() {
            super("pkey.kernel-write-denied", "kernel writes a page under no-write",
                    "futex(FUTEX_WAKE_OP, add 0) on the page fails with EFAULT under no-write; the kernel's read succeeds");
        }

        @Override
        ExperimentResult observe() {
            return onTaggedPage((key, page) -> {
                boolean read;
                boolean write;
                try (RightsScope _ = key.withRights(Rights.NO_WRITE)) {
                    read = AccessProbe.canRead(page);
                    write = AccessProbe.canWrite(page);
                }
                return result(read && !write, "kernel write " + AccessProbe.efault(write) + ", kernel read "
                        + AccessProbe.efault(read), "key " + key.number());
            });
        }
    }

    static final class RightsRestored extends PkeyExperiment {
        RightsRestored() {
            super("pkey.rights-restored", "close a no-access rights scope",
                    "read-write again: the kernel's read and write both succeed");
        }

        @Override
        ExperimentResult observe() {
            return onTaggedPage((key, page) -> {
                boolean deniedInside;
                try (RightsScope _ = key.withRights(Rights.NO_ACCESS)) {
                    deniedInside = !AccessProbe.canRead(page);
                }
                Rights after = key.rights();
                boolean read = AccessProbe.canRead(page);
                boolean write = AccessProbe.canWrite(page);
                return result(deniedInside && after == Rights.READ_WRITE && read && write,
                        "rights " + after + ", kernel read " + AccessProbe.efault(read) + ", kernel write "
                                + AccessProbe.efault(write),
                        "key " + key.number() + "; inside the scope the read was " + (deniedInside ? "denied" : "allowed"));
            });
        }
    }

    static final class HoleEnomem extends PkeyExperiment {
        HoleEnomem() {
            super("pkey.hole-enomem", "tag three pages whose middle one is unmapped",
                    "one pkey_mprotect fails with ENOMEM; the page walk tags both mapped pages and reports the hole");
        }

        /**
         * A hole needs a munmap that pkrseq's own pages must never see (their arena unmaps them whole), so the
         * experiment maps its own three pages, tags them with the hazard opt-in, and unmaps them page by page
         * itself: never the hole, which may be someone else's by then.
         */
        @Override
        ExperimentResult observe() {
            long page = Pages.size();
            long base = MemoryCalls.mmap(0, 3 * page, RW.bits(), MemoryCalls.MAP_PRIVATE | MemoryCalls.MAP_ANONYMOUS, -1, 0);
            MemorySegment three = MemoryCalls.memory(base, 3 * page);
            boolean holeIsOurs = true;
            ProtectionKey key = null;
            try {
                key = ProtectionKey.allocate(Rights.READ_WRITE);
                MemoryCalls.munmap(base + page, page);
                holeIsOurs = false;
                NativeException failure = null;
                try {
                    key.protect(three, RW, Hazard.MAY_KILL_THIS_JVM);
                } catch (NativeException e) {
                    failure = e;
                }
                PageKeys afterCall = PageKeys.of(three);
                PageWalk walk = key.tagPages(three, RW, Hazard.MAY_KILL_THIS_JVM);
                PageKeys afterWalk = PageKeys.of(three);
                int k = key.number();
                if (afterWalk.key(1) != null) {
                    // Another thread mapped something into the hole meanwhile: never leave its page tagged.
                    Smaps.containing(Smaps.self(), base + page).ifPresent(v ->
                            PkeyCalls.pkeyMprotect(base + page, page, v.protection().bits(), 0));
                    return result(false, "something else was mapped into the hole during the experiment",
                            "walk " + walk.pages());
                }
                boolean ok = failure != null && failure.errno() == Errno.ENOMEM
                        && walk.pages().stream().map(PageWalk.Page::status).toList().equals(
                                List.of(PageWalk.Status.TAGGED, PageWalk.Status.NOT_MAPPED, PageWalk.Status.TAGGED))
                        && afterWalk.keys().equals(java.util.Arrays.asList(k, null, k));
                return result(ok, "one call: " + (failure == null ? "succeeded" : failure.errno().name()) + ", keys then "
                        + afterCall + "; walk: " + statuses(walk) + ", keys " + afterWalk,
                        "key " + k + "; " + (Integer.valueOf(k).equals(afterCall.key(0))
                                ? "the single call had already tagged the page before the hole when it failed with ENOMEM"
                                : "the single call changed no page"));
            } finally {
                // Unmapping the tagged pages takes the key off them; then the key can be freed.
                MemoryCalls.munmap(base, page);
                MemoryCalls.munmap(base + 2 * page, page);
                if (holeIsOurs) {
                    MemoryCalls.munmap(base + page, page);
                }
                if (key != null) {
                    key.close();
                }
            }
        }
    }

    static final class NewThreadInherits extends PkeyExperiment {
        NewThreadInherits() {
            super("pkey.new-thread-inherits", "rights of threads started before and after pkey_set",
                    "a thread started after pkey_set has the creator's rights; one started before the key existed has"
                            + " no-access");
        }

        @Override
        ExperimentResult observe() {
            try (ThreadProbe early = ThreadProbe.start("pkrseq-early");
                    ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE);
                    Arena arena = Arena.ofShared()) {
                MemorySegment page = Pages.allocate(arena, 1);
                key.protect(page, RW);
                // no-write differs from both the default (no-access) and pkey_alloc's read-write.
                key.setRights(Rights.NO_WRITE);
                try (ThreadProbe late = ThreadProbe.start("pkrseq-late")) {
                    Rights lateRights = late.rights(key);
                    boolean lateRead = late.canRead(page);
                    boolean lateWrite = late.canWrite(page);
                    Rights earlyRights = early.rights(key);
                    boolean earlyRead = early.canRead(page);
                    boolean ok = lateRights == Rights.NO_WRITE && lateRead && !lateWrite
                            && earlyRights == Rights.NO_ACCESS && !earlyRead;
                    return result(ok, "creator no-write; later thread " + lateRights + " (kernel read "
                            + AccessProbe.efault(lateRead) + ", write " + AccessProbe.efault(lateWrite) + "); earlier thread "
                            + earlyRights + " (kernel read " + AccessProbe.efault(earlyRead) + ")", "key " + key.number()
                            + "; tids: early " + early.tid() + ", late " + late.tid());
                }
            }
        }
    }

    static final class FreeThenReuse extends PkeyExperiment {
        FreeThenReuse() {
            super("pkey.free-then-reuse", "pkey_free a key that a page carries (raw calls), then pkey_alloc",
                    "pkey_free succeeds; smaps keeps the number on the page; pkey_alloc returns the same number");
        }

        @Override
        ExperimentResult observe() {
            long size = Pages.size();
            long page = MemoryCalls.mmap(0, size, RW.bits(), MemoryCalls.MAP_PRIVATE | MemoryCalls.MAP_ANONYMOUS, -1, 0);
            int held = -1;
            try {
                int first = PkeyCalls.pkeyAlloc(0, 0);
                held = first;
                PkeyCalls.pkeyMprotect(page, size, RW.bits(), first);
                PkeyCalls.pkeyFree(first);
                held = -1;
                Integer afterFree = PageKeys.of(page, size).key(0);
                int second = PkeyCalls.pkeyAlloc(0, 0);
                held = second;
                Integer afterRealloc = PageKeys.of(page, size).key(0);
                boolean ok = second == first && afterFree != null && afterFree == first;
                return result(ok, "freed key " + first + "; the page still shows key " + afterFree + "; pkey_alloc then"
                        + " returned " + second, "after the second pkey_alloc the page shows key " + afterRealloc
                        + " and belongs to its new owner. " + guardedRefusal());
            } finally {
                PkeyCalls.pkeyMprotect(page, size, RW.bits(), 0);
                if (held >= 0) {
                    PkeyCalls.pkeyFree(held);
                }
                MemoryCalls.munmap(page, size);
            }
        }

        /** What the guarded API says to the same sequence. */
        private static String guardedRefusal() {
            ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE);
            try {
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment page = Pages.allocate(arena, 1);
                    key.protect(page, RW);
                    try {
                        key.close();
                        return "The guarded API freed the key: its guard did not hold.";
                    } catch (KeyInUseException e) {
                        return "The guarded API refuses the same free: " + e.getClass().getSimpleName() + ".";
                    }
                }
            } finally {
                key.close(); // the arena is closed, the page unmapped: now the free goes through
            }
        }
    }

    static final class MprotectKeepsKey extends PkeyExperiment {
        MprotectKeepsKey() {
            super("pkey.mprotect-keeps-key", "plain mprotect of a tagged page",
                    "mprotect(PROT_READ) changes the protection and keeps the page's key");
        }

        @Override
        ExperimentResult observe() {
            return onTaggedPage((key, page) -> {
                MemoryCalls.mprotect(page.address(), page.byteSize(), MemoryCalls.PROT_READ);
                var vma = Smaps.containing(Smaps.self(), page.address()).orElseThrow();
                int k = key.number();
                return result(vma.key() == k && vma.perms().startsWith("r--"),
                        "after mprotect(PROT_READ): " + vma.perms() + ", key " + vma.key(), "key " + k);
            });
        }
    }

    static final class ExecOnlyHiddenKey extends PkeyExperiment {
        ExecOnlyHiddenKey() {
            super("pkey.exec-only-hidden-key", "mprotect(PROT_EXEC) alone, in a child JVM",
                    "the page moves to a hidden execute-only key: one allocatable key fewer while it stands");
        }

        @Override
        ExperimentResult observe() {
            ChildJvm.Result r = ChildJvm.of(ExecOnlyChild.class).jvmArgs("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")
                    .timeout(CHILD_TIMEOUT).run();
            if (r.exitCode() != 0) {
                return result(false, "the child JVM failed (exit " + r.exitCode() + ")", r.stderr().strip());
            }
            int before = Integer.parseInt(r.value("before="));
            int key = Integer.parseInt(r.value("key="));
            int during = Integer.parseInt(r.value("during="));
            int after = Integer.parseInt(r.value("after="));
            String rights = r.value("rights=");
            return result(during == before - 1 && key != 0,
                    "allocatable " + before + " -> " + during + " (the page carries key " + key + "); " + after
                            + " after munmap",
                    "this thread's rights for key " + key + ": " + rights + ". The kernel keeps its execute-only key for"
                            + " the life of the process" + (after == during ? ", even after the page is gone" : ""));
        }
    }

    /**
     * The child JVM of {@code pkey.exec-only-hidden-key}: it spends the execute-only key, which this JVM
     * could never get back.
     */
    public static final class ExecOnlyChild {
        private ExecOnlyChild() {
        }

        /**
         * Prints {@code before=}, {@code key=}, {@code rights=}, {@code during=} and {@code after=}.
         *
         * @param args ignored
         */
        public static void main(String[] args) {
            long size = Pages.size();
            int before = Pkeys.allocatableNow();
            long page = MemoryCalls.mmap(0, size, RW.bits(), MemoryCalls.MAP_PRIVATE | MemoryCalls.MAP_ANONYMOUS, -1, 0);
            MemoryCalls.mprotect(page, size, MemoryCalls.PROT_EXEC);
            Integer key = PageKeys.of(page, size).key(0);
            int during = Pkeys.allocatableNow();
            Rights rights = Pkru.current().rights(key == null ? 0 : key);
            MemoryCalls.munmap(page, size);
            int after = Pkeys.allocatableNow();
            ChildReport.put("before", before);
            ChildReport.put("key", key);
            ChildReport.put("rights", rights);
            ChildReport.put("during", during);
            ChildReport.put("after", after);
            System.out.flush();
        }
    }

    static final class UserFaultInChild extends PkeyExperiment {
        UserFaultInChild() {
            super("pkey.user-fault-in-child", "a Java read of a no-access page, in a child JVM",
                    "the child dies by SIGSEGV, si_code 4 (SEGV_PKUERR), si_addr = the page");
        }

        @Override
        ExperimentResult observe() {
            PkeyFaultProbe.Result r = PkeyFaultProbe.run(CHILD_TIMEOUT);
            return result(r.pkuFault(), r.survived() ? "the child survived the read" : r.describe(),
                    r.crashLine() == null ? "no crash log" : "crash log: " + r.crashLine() + "; key " + r.key()
                            + "; child ran " + r.elapsed().toMillis() + " ms");
        }
    }

    /**
     * Runs {@code body} on one fresh page tagged with a fresh key that is read-write for this thread, then
     * unmaps the page and frees the key, in that order: the key's guard refuses a free while a page carries it.
     */
    private static ExperimentResult onTaggedPage(BiFunction<ProtectionKey, MemorySegment, ExperimentResult> body) {
        try (ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE); Arena arena = Arena.ofConfined()) {
            MemorySegment page = Pages.allocate(arena, 1);
            key.protect(page, RW);
            return body.apply(key, page);
        }
    }

    private static String statuses(PageWalk walk) {
        return walk.pages().stream().map(p -> p.status().name().toLowerCase(java.util.Locale.ROOT).replace('_', ' '))
                .toList().toString();
    }

    /** 1, 2, 3, 5 -> "1-3, 5". */
    static String compact(List<Integer> numbers) {
        if (numbers.isEmpty()) {
            return "none";
        }
        StringBuilder sb = new StringBuilder();
        int i = 0;
        while (i < numbers.size()) {
            int j = i;
            while (j + 1 < numbers.size() && numbers.get(j + 1) == numbers.get(j) + 1) {
                j++;
            }
            sb.append(sb.length() == 0 ? "" : ", ").append(numbers.get(i));
            if (j > i) {
                sb.append('-').append(numbers.get(j));
            }
            i = j + 1;
        }
        return sb.toString();
    }
}
