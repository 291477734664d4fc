package dev.pkrseq.rseq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pkrseq.sys.LoaderCalls;
import dev.pkrseq.sys.ThreadCalls;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Test;

/** Reading the calling thread's glibc-registered struct rseq. */
class RseqReadTest {

    @Test
    void cpuIdEqualsSchedGetcpuReadBackToBack() {
        Features.assumeRseq();
        RseqArea area = Rseq.current().orElseThrow();
        int agreed = 0;
        for (int i = 0; i < 100 && agreed < 10; i++) {
            int a = area.cpuId();
            int b = ThreadCalls.schedGetcpu();
            int c = area.cpuId();
            // A migration between the reads shows as a != c; retry those.
            if (a == c) {
                assertEquals(a, b, "cpu_id and sched_getcpu disagree without a migration");
                agreed++;
            }
        }
        assertTrue(agreed >= 10, "too many migrations to compare");
    }

    @Test
    void glibcAreaSitsAtThreadPointerPlusRseqOffset() {
        Features.assumeRseq();
        RseqArea area = Rseq.current().orElseThrow();
        assertEquals(Owner.GLIBC, area.owner());
        assertEquals(LoaderCalls.threadPointer() + Rseq.glibcOffset().orElseThrow(), area.address());
        assertEquals(0, area.address() % RseqAbi.MIN_ALIGN, "struct rseq is 32-byte aligned");
    }

    @Test
    void fieldsBeyondTheCoveredLengthAreAbsentNotZero() {
        Features.assumeRseq();
        RseqArea area = Rseq.current().orElseThrow();
        int covered = Math.min(Rseq.glibcSize() == 32 ? 20 : Rseq.glibcSize(), Rseq.kernelFeatureSize());
        assertEquals(covered, area.coveredLength());
        assertEquals(covered >= 24, area.nodeId().isPresent());
        assertEquals(covered >= 28, area.mmCid().isPresent());
    }

    @Test
    void cpuIdStartIsAValidCpu() {
        Features.assumeRseq();
        int start = Rseq.current().orElseThrow().cpuIdStart();
        assertTrue(start >= 0 && start < ThreadCalls.onlineCpus() + 64, "cpu_id_start " + start);
    }
}
