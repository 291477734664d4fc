package dev.pkrseq.lab.rseq;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

import dev.pkrseq.lab.Outcome;
import dev.pkrseq.rseq.Owner;
import dev.pkrseq.rseq.Rseq;
import dev.pkrseq.rseq.RseqArea;
import dev.pkrseq.rseq.RseqException;
import dev.pkrseq.rseq.RseqRegistry;
import dev.pkrseq.rseq.internal.RseqRefusals;
import dev.pkrseq.sys.CpuNode;
import dev.pkrseq.sys.MemoryCalls;
import dev.pkrseq.sys.ThreadCalls;

/**
 * The rseq observations, each run on the calling thread (or on threads it starts and joins), each
 * leaving nothing registered. {@link RseqExperiments} runs them in the probe's JVM or, where they need
 * pkrseq's own registration, in a child JVM through {@link RseqChild}.
 */
final class RseqScenarios {
    /** How long the mm_cid threads spin. */
    static final long DENSE_MILLIS = 300;

    private RseqScenarios() {
    }

    /**
     * What a scenario saw.
     *
     * @param outcome whether it matched the expectation, or skipped when it could not run
     * @param observed one line on what happened, or the reason for a skip
     * @param detail supporting numbers
     * @param facts named values for tests and for combining results, in order
     */
    record Finding(Outcome outcome, String observed, String detail, Map<String, String> facts) {
        static Finding skip(String reason) {
            return new Finding(Outcome.SKIPPED, reason, "", Map.of());
        }

        static Finding of(boolean ok, String observed, String detail) {
            return of(ok, observed, detail, Map.of());
        }

        static Finding of(boolean ok, String observed, String detail, Map<String, String> facts) {
            return new Finding(ok ? Outcome.AS_EXPECTED : Outcome.UNEXPECTED, observed, detail, facts);
        }
    }

    // ---- In any JVM: whatever registration the thread has -----------------------------------------

    /** cpu_id read back to back equals sched_getcpu and the getcpu system call; cpu_id_start equals cpu_id. */
    static Finding cpuMatchesGetcpu() {
        return withArea(area -> {
            int compared = 0;
            int migrated = 0;
            int mismatched = 0;
            int startMismatched = 0;
            String firstMismatch = null;
            for (int i = 0; i < 2000 && compared < 200; i++) {
                int before = area.cpuId();
                int start = area.cpuIdStart();
                int glibc = ThreadCalls.schedGetcpu();
                int kernel = ThreadCalls.getcpu().cpu();
                int after = area.cpuId();
                if (before != after) {
                    migrated++;
                    continue;
                }
                compared++;
                if (glibc != before || kernel != before) {
                    mismatched++;
                    if (firstMismatch == null) {
                        firstMismatch = "cpu_id " + before + ", sched_getcpu " + glibc + ", getcpu syscall " + kernel;
                    }
                }
                if (start != before) {
                    startMismatched++;
                }
            }
            boolean ok = compared >= 20 && mismatched == 0 && startMismatched == 0;
            String observed = compared < 20 ? "too many migrations to compare (" + migrated + ")"
                    : mismatched == 0 && startMismatched == 0
                            ? "equal in " + compared + " of " + compared + " reads; cpu_id_start equal too"
                            : mismatched + " of " + compared + " reads differ (" + firstMismatch + "); cpu_id_start differs in "
                                    + startMismatched;
            String detail = area.owner() + "'s area at 0x" + Long.toHexString(area.address()) + "; " + migrated
                    + " samples skipped for a migration between the reads"
                    + (area.owner() == Owner.GLIBC ? "; glibc's sched_getcpu itself reads this cpu_id, the getcpu"
                            + " system call is the independent check" : "");
            return Finding.of(ok, observed, detail, Map.of("owner", area.owner().toString(),
                    "compared", Integer.toString(compared), "mismatched", Integer.toString(mismatched)));
        });
    }

    /**
     * Pins the thread to each allowed CPU in turn, as the kernel's basic_test.c does: cpu_id and
     * cpu_id_start follow, and node_id (where covered) matches the getcpu system call's node.
     */
    static Finding followsAffinity() {
        return withArea(area -> {
            BitSet original = ThreadCalls.schedGetaffinity(0);
            List<String> wrong = new ArrayList<>();
            List<Integer> visited = new ArrayList<>();
            List<String> nodes = new ArrayList<>();
            try {
                for (int cpu = original.nextSetBit(0); cpu >= 0; cpu = original.nextSetBit(cpu + 1)) {
                    BitSet one = new BitSet();
                    one.set(cpu);
                    ThreadCalls.schedSetaffinity(0, one);
                    int id = area.cpuId();
                    int start = area.cpuIdStart();
                    CpuNode kernel = ThreadCalls.getcpu();
                    visited.add(cpu);
                    if (id != cpu || start != cpu || kernel.cpu() != cpu) {
                        wrong.add("pinned to " + cpu + ": cpu_id " + id + ", cpu_id_start " + start + ", getcpu " + kernel.cpu());
                    }
                    if (area.coversNodeId()) {
                        int node = area.nodeId().orElseThrow();
                        nodes.add(cpu + ":" + node);
                        if (node != kernel.node()) {
                            wrong.add("pinned to " + cpu + ": node_id " + node + ", getcpu node " + kernel.node());
                        }
                    }
                }
            } finally {
                ThreadCalls.schedSetaffinity(0, original);
            }
            boolean restored = ThreadCalls.schedGetaffinity(0).equals(original);
            boolean ok = wrong.isEmpty() && restored && !visited.isEmpty();
            String observed = wrong.isEmpty()
                    ? "cpu_id and cpu_id_start followed CPUs " + join(visited)
                            + (area.coversNodeId() ? "; node_id matched getcpu (cpu:node " + String.join(" ", nodes) + ")"
                                    : "; node_id not covered by " + area.owner() + "'s " + area.coveredLength()
                                            + "-byte registration")
                    : String.join("; ", wrong);
            String detail = area.owner() + "'s area; allowed CPUs " + original + ", mask "
                    + (restored ? "restored" : "NOT restored");
            Map<String, String> facts = new LinkedHashMap<>();
            facts.put("owner", area.owner().toString());
            facts.put("nodeCovered", Boolean.toString(area.coversNodeId()));
            facts.put("cpus", join(visited));
            facts.put("nodes", String.join(" ", nodes));
            facts.put("restored", Boolean.toString(restored));
            return Finding.of(ok, observed, detail, facts);
        });
    }

    /** Registering a second area beside glibc's: EINVAL, "already registered (by glibc)". */
    static Finding registerBesideGlibc() {
        if (Rseq.owner() != Owner.GLIBC) {
            return Finding.skip("glibc did not register this thread (owner " + Rseq.owner() + "): "
                    + Rseq.whyNotRegistered());
        }
        int before = RseqRegistry.registeredCount();
        try {
            RseqArea area = Rseq.register();
            Rseq.unregister();
            return Finding.of(false, "the kernel accepted a second area at 0x" + Long.toHexString(area.address()),
                    "it was unregistered again");
        } catch (RseqException e) {
            boolean ok = e.errno() == dev.pkrseq.Errno.EINVAL && RseqRegistry.registeredCount() == before;
            return Finding.of(ok, e.errno() + ": " + e.explanation(), e.getMessage() + "; registered areas in the pool: "
                    + RseqRegistry.registeredCount(), Map.of("errno", e.errno().name(), "explanation", e.explanation()));
        }
    }

    // ---- Under pkrseq's own registration (a child JVM with glibc's registration off) ------------------

    /** Owner none, then pkrseq with a valid cpu_id (and mm_cid where the kernel has it), then none again. */
    static Finding ownRegistration() {
        Owner before = Rseq.owner();
        if (before != Owner.NONE) {
            return Finding.skip("the thread is already registered by " + before);
        }
        RseqArea area = Rseq.register();
        Owner during;
        int cpu;
        int kernelCpu;
        OptionalInt cid;
        OptionalInt node;
        boolean same;
        int countDuring;
        try {
            during = Rseq.owner();
            int a;
            int b;
            int tries = 0;
            do {
                a = area.cpuId();
                kernelCpu = ThreadCalls.getcpu().cpu();
                b = area.cpuId();
            } while (a != b && ++tries < 100);
            cpu = a;
            cid = area.mmCid();
            node = area.nodeId();
            same = Rseq.register() == area;
            countDuring = RseqRegistry.registeredCount();
        } finally {
            Rseq.unregister();
        }
        Owner after = Rseq.owner();
        int cpuAfter = area.cpuId();
        int countAfter = RseqRegistry.registeredCount();
        int cpus = ThreadCalls.onlineCpus();
        boolean kernelHasCid = Rseq.kernelFeatureSize() >= 28;
        boolean cidOk = kernelHasCid
                ? cid.isPresent() && cid.getAsInt() >= 0 && cid.getAsInt() < cpus
                : cid.isEmpty();
        boolean ok = during == Owner.PKRSEQ && cpu == kernelCpu && cpu >= 0 && cidOk && same && countDuring == 1
                && after == Owner.NONE && cpuAfter == -1 && countAfter == 0;
        String observed = "owner " + before + ", then " + during + " (cpu_id " + cpu + (cpu == kernelCpu ? " = getcpu" : " != getcpu " + kernelCpu)
                + ", mm_cid " + orAbsent(cid) + ", node_id " + orAbsent(node) + "), then " + after
                + " after unregister";
        String detail = "area 0x" + Long.toHexString(area.address()) + ", length " + Rseq.registrationLength()
                + ", covered " + area.coveredLength() + " (feature size " + Rseq.kernelFeatureSize() + "); second register"
                + (same ? " returned the same registration" : " returned ANOTHER registration") + "; pool: " + countDuring
                + " registered during, " + countAfter + " after; the handle reads cpu_id " + cpuAfter + " after unregister";
        Map<String, String> facts = new LinkedHashMap<>();
        facts.put("before", before.toString());
        facts.put("during", during.toString());
        facts.put("after", after.toString());
        facts.put("cpuId", Integer.toString(cpu));
        facts.put("getcpu", Integer.toString(kernelCpu));
        facts.put("mmCid", orAbsent(cid));
        facts.put("nodeId", orAbsent(node));
        facts.put("sameOnSecondRegister", Boolean.toString(same));
        facts.put("covered", Integer.toString(area.coveredLength()));
        facts.put("address", Long.toString(area.address()));
        facts.put("registeredAfter", Integer.toString(countAfter));
        return Finding.of(ok, observed, detail, facts);
    }

    /** A field as the findings print it: its value, or "absent" where the area does not cover it. */
    private static String orAbsent(OptionalInt v) {
        return v.isPresent() ? Integer.toString(v.getAsInt()) : "absent";
    }

    /** The same area, length and signature registered again: EBUSY. */
    static Finding sameAreaEbusy() {
        return underOwnRegistration(area -> {
            RseqException e = expectRefusal(() -> RseqRefusals.register(area.address(), Rseq.registrationLength(),
                    Rseq.signature()));
            boolean stillRegistered = area.cpuId() >= 0 && Rseq.owner() == Owner.PKRSEQ;
            return Finding.of(e.errno() == dev.pkrseq.Errno.EBUSY && stillRegistered,
                    e.errno() + ": " + e.explanation(), e.getMessage() + "; the registration stays in place",
                    Map.of("errno", e.errno().name()));
        });
    }

    /** Unregistering with the wrong signature: EPERM, and the registration stays. */
    static Finding wrongSignatureEperm() {
        return underOwnRegistration(area -> {
            int wrong = Rseq.signature() ^ 0x1;
            RseqException e = expectRefusal(() -> RseqRefusals.unregister(area.address(), Rseq.registrationLength(), wrong));
            boolean stillRegistered = area.cpuId() >= 0 && Rseq.owner() == Owner.PKRSEQ;
            return Finding.of(e.errno() == dev.pkrseq.Errno.EPERM && stillRegistered,
                    e.errno() + ": " + e.explanation(), e.getMessage() + (stillRegistered
                            ? "; the area stays registered" : "; the area is NOT registered any more"),
                    Map.of("errno", e.errno().name(), "stillRegistered", Boolean.toString(stillRegistered)));
        });
    }

    /**
     * RSEQ_FLAG_UNREGISTER ends the registration: the kernel resets cpu_id to -1, the pool takes the area
     * back at once, and a second unregister gives EINVAL.
     */
    static Finding unregister() {
        if (Rseq.owner() != Owner.NONE) {
            return Finding.skip("the thread is already registered by " + Rseq.owner());
        }
        RseqArea area = Rseq.register();
        long address = area.address();
        boolean first = Rseq.unregister();
        int kernelWord = readWord(address);
        int handleReads = area.cpuId();
        Owner after = Rseq.owner();
        int count = RseqRegistry.registeredCount();
        RseqException again = expectRefusal(() -> RseqRefusals.unregister(address, Rseq.registrationLength(),
                Rseq.signature()));
        RseqArea next = Rseq.register();
        boolean reused = next.address() == address;
        Rseq.unregister();
        boolean ok = first && kernelWord == -1 && handleReads == -1 && after == Owner.NONE && count == 0
                && again.errno() == dev.pkrseq.Errno.EINVAL && reused && RseqRegistry.registeredCount() == 0;
        String observed = "unregistered; the kernel reset cpu_id to " + kernelWord + ", owner " + after
                + ", pool count " + count + "; a second unregister: " + again.errno();
        String detail = again.getMessage() + "; the next registration " + (reused ? "reused" : "did NOT reuse")
                + " the area at 0x" + Long.toHexString(address);
        Map<String, String> facts = new LinkedHashMap<>();
        facts.put("cpuIdAfter", Integer.toString(kernelWord));
        facts.put("handleAfter", Integer.toString(handleReads));
        facts.put("owner", after.toString());
        facts.put("again", again.errno().name());
        facts.put("reused", Boolean.toString(reused));
        return Finding.of(ok, observed, detail, facts);
    }

    /**
     * N busy threads, each registered by pkrseq, sample their cpu_id and mm_cid: every mm_cid is below
     * min(N, CPUs), while cpu_id can be any CPU.
     */
    static Finding mmCidDense(int threads) throws InterruptedException {
        if (Rseq.kernelFeatureSize() < 28) {
            return Finding.skip("the kernel's feature size is " + Rseq.kernelFeatureSize() + ": no mm_cid before Linux 6.3");
        }
        int cpus = ThreadCalls.onlineCpus();
        BitSet[] cids = new BitSet[threads];
        BitSet[] cpuSets = new BitSet[threads];
        String[] failures = new String[threads];
        CyclicBarrier start = new CyclicBarrier(threads);
        List<Thread> workers = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            int k = i;
            cids[k] = new BitSet();
            cpuSets[k] = new BitSet();
            Thread t = Thread.ofPlatform().name("pkrseq-dense-" + k).unstarted(() -> {
                try {
                    RseqArea area = Rseq.register();
                    try {
                        start.await(10, TimeUnit.SECONDS);
                        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(DENSE_MILLIS);
                        while (System.nanoTime() < end) {
                            for (int j = 0; j < 1000; j++) {
                                int cid = area.mmCidRaw();
                                int cpu = area.cpuId();
                                if (cid >= 0) {
                                    cids[k].set(cid);
                                } else {
                                    failures[k] = "mm_cid " + cid;
                                }
                                cpuSets[k].set(cpu);
                            }
                        }
                    } finally {
                        Rseq.unregister();
                    }
                } catch (Exception e) {
                    failures[k] = String.valueOf(e);
                }
            });
            workers.add(t);
            t.start();
        }
        for (Thread t : workers) {
            t.join();
        }
        BitSet allCids = new BitSet();
        BitSet allCpus = new BitSet();
        StringBuilder per = new StringBuilder();
        for (int i = 0; i < threads; i++) {
            if (failures[i] != null) {
                return Finding.of(false, "thread " + i + " failed: " + failures[i], "");
            }
            allCids.or(cids[i]);
            allCpus.or(cpuSets[i]);
            per.append(i == 0 ? "" : "; ").append("thread ").append(i).append(": mm_cid ").append(cids[i])
                    .append(" cpu_id ").append(cpuSets[i]);
        }
        int bound = Math.min(threads, cpus);
        boolean ok = !allCids.isEmpty() && allCids.length() <= bound && RseqRegistry.registeredCount() == 0;
        String observed = threads + " threads on " + cpus + " CPUs: mm_cid " + allCids
                + (allCids.length() <= bound ? " all below " : " NOT all below ") + bound + "; cpu_id " + allCpus;
        Map<String, String> facts = new LinkedHashMap<>();
        facts.put("threads", Integer.toString(threads));
        facts.put("cpus", Integer.toString(cpus));
        facts.put("maxCid", Integer.toString(allCids.length() - 1));
        facts.put("cids", allCids.toString());
        facts.put("cpuIds", allCpus.toString());
        return Finding.of(ok, observed, "each thread spun " + DENSE_MILLIS + " ms reading its own area; " + per, facts);
    }

    /**
     * Every row of the error table that pkrseq can provoke safely, on the calling thread: refusals
     * before, during and after pkrseq's own registration. Facts: {@code case=ERRNO|explanation}.
     */
    static Finding errors() {
        if (Rseq.owner() != Owner.NONE) {
            return Finding.skip("the thread is already registered by " + Rseq.owner());
        }
        Map<String, String> facts = new LinkedHashMap<>();
        int sig = Rseq.signature();
        int len = Rseq.registrationLength();
        facts.put("supported", Boolean.toString(Rseq.availability().available()));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment spare = arena.allocate(2L * Rseq.registrationAlign(), Rseq.registrationAlign());
            facts.put("short-length", refusal(() -> RseqRefusals.register(spare.address(), 16, sig)));
            facts.put("misaligned", refusal(() -> RseqRefusals.register(spare.address() + 4, 32, sig)));
            facts.put("kernel-address", refusal(() -> RseqRefusals.register(-4096L, 32, sig)));
            facts.put("unregister-unregistered", refusal(() -> RseqRefusals.unregister(spare.address(), len, sig)));
            RseqArea area = Rseq.register();
            long a = area.address();
            try {
                facts.put("same-area", refusal(() -> RseqRefusals.register(a, len, sig)));
                facts.put("same-area-other-signature", refusal(() -> RseqRefusals.register(a, len, sig ^ 1)));
                facts.put("other-area", refusal(() -> RseqRefusals.register(spare.address(), len, sig)));
                facts.put("other-length", refusal(() -> RseqRefusals.register(a, len + Rseq.registrationAlign(), sig)));
                facts.put("unregister-wrong-signature", refusal(() -> RseqRefusals.unregister(a, len, sig ^ 1)));
                facts.put("unregister-wrong-length", refusal(() -> RseqRefusals.unregister(a, len + 32, sig)));
                facts.put("unregister-other-area", refusal(() -> RseqRefusals.unregister(spare.address(), len, sig)));
                facts.put("still-registered", Boolean.toString(area.cpuId() >= 0));
            } finally {
                Rseq.unregister();
            }
        }
        facts.put("registeredAfter", Integer.toString(RseqRegistry.registeredCount()));
        return Finding.of(true, "error table provoked", "", facts);
    }

    // ---- Helpers ------------------------------------------------------------------------------------

    /** Runs on the thread's registration, registering pkrseq's own (and undoing it) where nobody did. */
    static Finding withArea(Function<RseqArea, Finding> body) {
        Optional<RseqArea> existing = Rseq.current();
        RseqArea area = existing.orElseGet(Rseq::register);
        try {
            return body.apply(area);
        } finally {
            if (existing.isEmpty()) {
                Rseq.unregister();
            }
        }
    }

    private static Finding underOwnRegistration(Function<RseqArea, Finding> body) {
        if (Rseq.owner() != Owner.NONE) {
            return Finding.skip("the thread is already registered by " + Rseq.owner()
                    + ": this needs pkrseq's own registration");
        }
        RseqArea area = Rseq.register();
        try {
            return body.apply(area);
        } finally {
            Rseq.unregister();
        }
    }

    private static RseqException expectRefusal(Runnable call) {
        try {
            call.run();
        } catch (RseqException e) {
            return e;
        }
        throw new IllegalStateException("the kernel accepted a call it should refuse");
    }

    private static String refusal(Runnable call) {
        RseqException e = expectRefusal(call);
        return e.errno().name() + "|" + e.explanation();
    }

    // Right after unregistering, the area is pool memory (never unmapped) that nobody registered: reading
    // it is safe, and shows what the kernel left behind.
    private static int readWord(long address) {
        return MemoryCalls.memory(address, 8).get(java.lang.foreign.ValueLayout.JAVA_INT, 4);
    }

    private static String join(List<Integer> values) {
        StringBuilder sb = new StringBuilder();
        for (int v : values) {
            sb.append(sb.length() == 0 ? "" : ",").append(v);
        }
        return sb.toString();
    }
}
