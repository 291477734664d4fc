package dev.pkrseq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import dev.pkrseq.observe.AccessProbe;
import dev.pkrseq.pkey.Pages;
import dev.pkrseq.pkey.Pkeys;
import dev.pkrseq.pkey.ProtectionKey;
import dev.pkrseq.pkey.Rights;
import dev.pkrseq.rseq.Rseq;
import dev.pkrseq.rseq.RseqArea;
import dev.pkrseq.sys.Sys;
import dev.pkrseq.testing.CarriesOn;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Load: 64 platform threads at once, each toggling its own PKRU rights for a key and reading its own
 * rseq cpu_id. There are only 15 keys, so threads share key numbers, each with a page tagged by it; PKRU
 * is per thread, so right after each toggle the in-process access probe (the kernel's read and write of
 * the page, on this thread's behalf) must show exactly this thread's new rights, whatever the other
 * threads of the same key have set. Every cpu_id must be a CPU of this machine, and the JVM must carry on.
 * The pkey part needs protection keys, the rseq part an rseq registration; each runs where it can.
 * One second in the default build, ten in the stress profile ({@code mvn verify -Pstress}).
 */
@Tag("pku")
class LoadTest {
    private static final int THREADS = 64;
    private static final Rights[] CYCLE = {Rights.NO_ACCESS, Rights.NO_WRITE, Rights.READ_WRITE};

    @Test
    void sixtyFourThreadsForOneSecondNeverSeeAnotherThreadsRightsOrABadCpu() throws Exception {
        load(Duration.ofSeconds(1));
    }

    @Test
    @Tag("stress")
    void sixtyFourThreadsForTenSecondsNeverSeeAnotherThreadsRightsOrABadCpu() throws Exception {
        load(Duration.ofSeconds(10));
    }

    private static void load(Duration duration) throws Exception {
        boolean pkeys = Features.pkeysWork();
        boolean rseq = Features.rseqRegistered();
        assumeTrue(pkeys || rseq, "neither protection keys nor rseq are available here");
        int cpus = Sys.onlineCpus();
        List<ProtectionKey> keys = new ArrayList<>();
        ConcurrentLinkedQueue<String> wrong = new ConcurrentLinkedQueue<>();
        AtomicLong toggles = new AtomicLong();
        AtomicLong cpuReads = new AtomicLong();
        long[] perThread = new long[THREADS];
        try (Arena arena = Arena.ofShared()) {
            List<MemorySegment> pages = new ArrayList<>();
            try {
                if (pkeys) {
                    int n = Pkeys.allocatableNow();
                    for (int i = 0; i < n; i++) {
                        ProtectionKey k = ProtectionKey.allocate(Rights.READ_WRITE);
                        keys.add(k);
                        MemorySegment page = Pages.allocate(arena, 1);
                        k.protect(page, Sys.PROT_READ | Sys.PROT_WRITE);
                        pages.add(page);
                    }
                }
                CountDownLatch start = new CountDownLatch(1);
                List<Thread> threads = new ArrayList<>();
                for (int t = 0; t < THREADS; t++) {
                    int id = t;
                    // Created after the keys: each inherits read-write for all of them, then goes its own way.
                    threads.add(Thread.ofPlatform().name("load-" + t).start(() -> {
                        try {
                            start.await();
                            RseqArea area = rseq ? Rseq.current().orElseThrow() : null;
                            ProtectionKey key = pkeys ? keys.get(id % keys.size()) : null;
                            long address = pkeys ? pages.get(id % pages.size()).address() : 0;
                            long deadline = System.nanoTime() + duration.toNanos();
                            long i = 0;
                            while (System.nanoTime() < deadline) {
                                if (pkeys) {
                                    Rights r = CYCLE[(int) ((i + id) % CYCLE.length)];
                                    key.setRights(r);
                                    boolean read = AccessProbe.canRead(address, 8);
                                    boolean write = AccessProbe.canWrite(address, 8);
                                    Rights seen = key.rights();
                                    if (seen != r || read != (r != Rights.NO_ACCESS) || write != (r == Rights.READ_WRITE)) {
                                        wrong.add("thread " + id + " (key " + key.number() + ") set " + r + " and saw rights "
                                                + seen + ", kernel read " + read + ", write " + write);
                                    }
                                    toggles.incrementAndGet();
                                }
                                if (rseq) {
                                    int cpu = area.cpuId();
                                    if (cpu < 0 || cpu >= cpus) {
                                        wrong.add("thread " + id + " read cpu_id " + cpu + " (" + cpus + " CPUs)");
                                    }
                                    cpuReads.incrementAndGet();
                                }
                                i++;
                            }
                            perThread[id] = i;
                        } catch (Throwable e) {
                            wrong.add("thread " + id + " failed: " + e);
                        }
                    }));
                }
                start.countDown();
                for (Thread t : threads) {
                    t.join(TimeUnit.SECONDS.toMillis(duration.toSeconds() + 120));
                    assertTrue(!t.isAlive(), t.getName() + " is still running");
                }
            } finally {
                if (pkeys) {
                    for (MemorySegment p : pages) {
                        ProtectionKey.DEFAULT.protect(p, Sys.PROT_READ | Sys.PROT_WRITE);
                    }
                }
            }
        } finally {
            for (ProtectionKey k : keys) {
                k.close();
            }
        }
        assertEquals(List.of(), List.copyOf(wrong).subList(0, Math.min(20, wrong.size())),
                wrong.size() + " wrong observations (first 20 shown)");
        for (int t = 0; t < THREADS; t++) {
            assertTrue(perThread[t] > 0, "thread " + t + " ran no iteration");
        }
        assertTrue(!pkeys || toggles.get() >= THREADS, "toggles " + toggles.get());
        assertTrue(!rseq || cpuReads.get() >= THREADS, "cpu_id reads " + cpuReads.get());
        // The JVM is healthy: it collects, and the main thread's native work still goes through.
        System.gc();
        CarriesOn.check();
    }
}
