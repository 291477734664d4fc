package dev.pkrseq.lab.pkey;

import dev.pkrseq.lab.ExperimentResult;

import java.util.List;
import java.util.stream.Collectors;

import dev.pkrseq.pkey.ProtectionKey;
import dev.pkrseq.pkey.Rights;

/**
 * {@code pkey.jvm-threads-denied}: the JVM's GC and JIT compiler threads exist before any key is allocated,
 * and pkey_alloc sets the rights of the calling thread only, so they keep the initial PKRU: no access to
 * the new key. A thread census (see {@link ThreadCensus}) reads every thread's PKRU after one allocation.
 */
final class JvmThreadsExperiment extends PkeyExperiments.PkeyExperiment {
    JvmThreadsExperiment() {
        super("pkey.jvm-threads-denied", "allocate a key read-write on this thread, then read every JVM thread's PKRU",
                "this thread read-write; every GC and JIT compiler thread no-access");
    }

    @Override
    ExperimentResult observe() {
        try (ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE)) {
            ThreadCensus.Census c = ThreadCensus.take();
            if (!c.supported()) {
                return ExperimentResult.of(this, false, "the census could not read PKRU: " + c.reason(), c.helper());
            }
            int k = key.number();
            List<ThreadCensus.ThreadRights> runtime = c.threads().stream()
                    .filter(t -> t.kind().equals("GC") || t.kind().equals("JIT compiler")).toList();
            ThreadCensus.ThreadRights self = c.threads().stream().filter(t -> t.tid() == c.callerTid()).findFirst()
                    .orElse(null);
            List<ThreadCensus.ThreadRights> open = runtime.stream().filter(t -> t.rights().get(k) != Rights.NO_ACCESS)
                    .toList();
            boolean ok = !runtime.isEmpty() && open.isEmpty() && self != null && self.rights().get(k) == Rights.READ_WRITE;
            String observed = "this thread " + (self == null ? "not found" : self.rights().get(k)) + "; "
                    + runtime.size() + " GC and JIT threads, " + (runtime.size() - open.size()) + " no-access"
                    + (open.isEmpty() ? "" : ", others: " + open.stream().map(t -> t.name() + " " + t.rights().get(k))
                            .collect(Collectors.joining(", ")));
            return ExperimentResult.of(this, ok, observed, "key " + k + "; " + c.threads().size() + " threads: "
                    + c.threads().stream().map(t -> t.name() + "=" + (t.pkru() == null ? t.error() : t.pkru()))
                            .collect(Collectors.joining(", ")));
        }
    }
}
