package dev.pkrseq.rseq;

import dev.pkrseq.rseq.internal.RseqRefusals;
import dev.pkrseq.lab.ChildReport;
import java.util.concurrent.atomic.AtomicReference;

import dev.pkrseq.sys.ThreadCalls;
import dev.pkrseq.testing.Thrown;

/**
 * Child JVM for {@link RseqMisuseTest}, started with {@code GLIBC_TUNABLES=glibc.pthread.rseq=0} so that
 * pkrseq's own registration can be misused. Each misuse prints {@code <row>.error=<type>|<message>} and
 * {@code <row>.after=<what the next valid operation gave>}.
 */
public final class RseqMisuseChild {
    private RseqMisuseChild() {
    }

    /**
     * Runs the misuses on the main thread and on a second thread.
     *
     * @param args ignored
     * @throws InterruptedException if interrupted while joining
     */
    public static void main(String[] args) throws InterruptedException {
        ChildReport.put("owner", Rseq.owner());
        // Registered twice: the second register() returns the same registration; naming the same area to
        // the kernel again is its EBUSY.
        RseqArea first = Rseq.register();
        RseqArea second = Rseq.register();
        ChildReport.put("twice.same", (first == second && first.address() == second.address()));
        report("twice", () -> RseqRefusals.register(first.address(), Rseq.registrationLength(), Rseq.signature()));
        ChildReport.put("twice.after", cpuOk(Rseq.cpuId()) + "," + Rseq.owner());
        ChildReport.put("twice.unregister", Rseq.unregister());
        // Never registered: unregister() says false; the raw call is the kernel's EINVAL, explained.
        AtomicReference<String[]> never = new AtomicReference<>();
        Thread t = Thread.ofPlatform().name("never-registered").start(() -> {
            boolean u = Rseq.unregister();
            String e = Thrown.described(() -> RseqRefusals.unregister(first.address(), Rseq.registrationLength(), Rseq.signature()));
            RseqArea a = Rseq.register();
            String after = cpuOk(a.cpuId()) + "," + Rseq.owner();
            Rseq.unregister();
            never.set(new String[] {String.valueOf(u), e, after});
        });
        t.join();
        ChildReport.put("never.unregister", never.get()[0]);
        ChildReport.put("never.error", never.get()[1]);
        ChildReport.put("never.after", never.get()[2]);
        ChildReport.put("registered.after", RseqRegistry.registeredCount());
    }

    private static String cpuOk(int cpu) {
        return cpu >= 0 && cpu < ThreadCalls.onlineCpus() ? "cpu-ok" : "cpu-" + cpu;
    }

    private static void report(String row, Thrown.Misuse misuse) {
        ChildReport.put(row + ".error", Thrown.described(misuse));
    }
}
