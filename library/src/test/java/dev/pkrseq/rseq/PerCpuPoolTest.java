package dev.pkrseq.rseq;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;

import dev.pkrseq.sys.MemoryCalls;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Per-CPU memory: placement, zeroing, free behind the fence, refusals. */
class PerCpuPoolTest {
    @Test
    void itemHasOneZeroedCopyPerPossibleCpuStrideApart() {
        PerCpuPool pool = PerCpuPool.create(24);
        PerCpuPool.Item item = pool.allocate();
        assertEquals(RseqCode.possibleCpus(), pool.slots());
        assertEquals(PerCpuPool.DEFAULT_STRIDE, pool.stride());
        for (int cpu = 0; cpu < pool.slots(); cpu++) {
            MemorySegment s = item.slot(cpu);
            assertEquals(item.percpu().address() + cpu * pool.stride(), s.address());
            assertEquals(32, s.byteSize());
            for (long o = 0; o < s.byteSize(); o += 8) {
                assertEquals(0, s.get(JAVA_LONG, o));
            }
        }
        assertEquals((pool.slots() - 1) * pool.stride() + 32, item.percpu().byteSize());
    }

    @ParameterizedTest
    @CsvSource({"1, 8", "8, 8", "9, 16", "24, 32", "64, 64", "65, 128", "4096, 4096"})
    void itemSizesRoundUpToAPowerOfTwoOfAtLeastEight(long asked, long rounded) {
        assertEquals(rounded, PerCpuPool.create(asked).itemSize());
    }

    @Test
    void freedPlaceIsReusedZeroedAfterTheFence() {
        Features.assumeRseq();
        PerCpuPool pool = PerCpuPool.create(8);
        PerCpuPool.Item a = pool.allocate();
        for (int cpu = 0; cpu < pool.slots(); cpu++) {
            a.slot(cpu).set(JAVA_LONG, 0, 1000 + cpu);
        }
        long offset = a.offset();
        pool.free(a);
        assertEquals(0, pool.retired(), "this kernel has the rseq fence: the place is reused, not retired");
        PerCpuPool.Item b = pool.allocate();
        assertEquals(offset, b.offset());
        for (int cpu = 0; cpu < pool.slots(); cpu++) {
            assertEquals(0, b.slot(cpu).get(JAVA_LONG, 0), "CPU " + cpu + " kept the freed item's value");
        }
        assertEquals(1, pool.allocated());
    }

    @Test
    void freedItemRefusesItsSegmentsAndASecondFree() {
        PerCpuPool pool = PerCpuPool.create(8);
        PerCpuPool.Item a = pool.allocate();
        pool.free(a);
        assertTrue(a.isFreed());
        assertThrows(IllegalStateException.class, a::percpu);
        assertThrows(IllegalStateException.class, () -> a.slot(0));
        assertThrows(IllegalStateException.class, () -> pool.free(a));
        assertThrows(IllegalArgumentException.class, () -> PerCpuPool.create(8).free(pool.allocate()));
    }

    @Test
    void aFullStrideMapsAnotherChunk() {
        PerCpuPool pool = PerCpuPool.create(PerCpuPool.DEFAULT_STRIDE / 2);
        pool.allocate();
        pool.allocate();
        assertEquals(1, pool.chunks());
        PerCpuPool.Item third = pool.allocate();
        assertEquals(2, pool.chunks());
        assertEquals(0, third.offset());
    }

    @Test
    void strideAndItemSizeOutOfRangeAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> PerCpuPool.create(8, 3 * MemoryCalls.pageSize()));
        assertThrows(IllegalArgumentException.class, () -> PerCpuPool.create(8, MemoryCalls.pageSize() / 2));
        assertThrows(IllegalArgumentException.class, () -> PerCpuPool.create(0));
        assertThrows(IllegalArgumentException.class, () -> PerCpuPool.create(PerCpuPool.DEFAULT_STRIDE + 1));
        assertThrows(IndexOutOfBoundsException.class, () -> PerCpuPool.create(8).allocate().slot(RseqCode.possibleCpus()));
    }
}
