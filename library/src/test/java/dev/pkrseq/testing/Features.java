package dev.pkrseq.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.pkrseq.rseq.Rseq;
import dev.pkrseq.rseq.RseqAbi;
import dev.pkrseq.NativeException;
import dev.pkrseq.sys.PkeyCalls;
import dev.pkrseq.sys.Syscall;

/** What the machine offers, for assumptions: tests that need a feature skip where it is missing. */
public final class Features {
    private Features() {
    }

    /** True when pkey_alloc hands out a key here (it is freed at once). */
    public static boolean pkeysWork() {
        try {
            int k = PkeyCalls.pkeyAlloc(0, PkeyCalls.PKEY_DISABLE_ACCESS);
            PkeyCalls.pkeyFree(k);
            return true;
        } catch (NativeException e) {
            return false;
        }
    }

    /** True when glibc registered the calling thread's rseq area. */
    public static boolean rseqRegistered() {
        return Syscall.architectureSupported() && Rseq.current().isPresent();
    }

    /** Skips the test unless protection keys work. */
    public static void assumePkeys() {
        assumeTrue(pkeysWork(), "protection keys are not available on this machine (no pku/ospke)");
    }

    /** Skips the test unless the calling thread has a glibc-registered rseq area. */
    public static void assumeRseq() {
        assumeTrue(rseqRegistered(), "rseq is not registered for this thread (kernel, glibc or tunable)");
    }

    /** True when the kernel writes node_id and mm_cid (Linux 6.3+: AT_RSEQ_FEATURE_SIZE >= 28). */
    public static boolean kernelHasMmCid() {
        return Rseq.kernelFeatureSize() >= RseqAbi.MM_CID + 4;
    }

    /** Skips the test unless the kernel writes mm_cid into struct rseq. */
    public static void assumeMmCid() {
        assumeTrue(kernelHasMmCid(), "the kernel writes no mm_cid (AT_RSEQ_FEATURE_SIZE " + Rseq.kernelFeatureSize()
                + "; Linux before 6.3)");
    }

    /** Skips the test unless the architecture has a system call table. */
    public static void assumeX86_64() {
        assumeTrue(Syscall.architectureSupported(), "not x86_64");
    }
}
