package dev.pkrseq.rseq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.function.IntSupplier;

import dev.pkrseq.sys.LoaderCalls;
import dev.pkrseq.sys.ThreadCalls;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Test;

/** Reading the calling thread's glibc-registered struct rseq. */
class RseqReadTest {

    @Test
    void cpuIdEqualsSchedGetcpuReadBackToBack() {
        Features.assumeRseq();
        assertAgreesBetweenTwoReads(ThreadCalls::schedGetcpu, 100, 10, "cpu_id and sched_getcpu disagree without a migration");
    }

    /**
     * Asserts that another way to the current CPU gives this thread's cpu_id, read between two reads of
     * the area that agree: a migration between the reads shows as two different cpu_ids, and is tried again.
     */
    static void assertAgreesBetweenTwoReads(IntSupplier other, int tries, int needed, String message) {
        RseqArea area = Rseq.current().orElseThrow();
        int agreed = 0;
        for (int i = 0; i < tries && agreed < needed; i++) {
            int a = area.cpuId();
            int b = other.getAsInt();
            int c = area.cpuId();
            if (a == c) {
                assertEquals(a, b, message);
                agreed++;
            }
        }
        assertTrue(agreed >= needed, "too many migrations to compare");
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
