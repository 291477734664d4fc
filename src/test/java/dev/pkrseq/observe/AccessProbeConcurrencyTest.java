package dev.pkrseq.observe;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongPredicate;

import dev.pkrseq.pkey.Pages;
import dev.pkrseq.sys.Errno;
import dev.pkrseq.sys.NativeException;
import dev.pkrseq.sys.Sys;
import org.junit.jupiter.api.Test;

/**
 * The write probe changes nothing, even while other threads write the same word: writer threads add to a
 * counter in a page with atomic increments while another thread probes the page's write access over and
 * over; afterwards the counter holds every increment. The broken twin is the probe as it was (read the
 * bytes into a pipe, write them back): the same harness sees it lose increments.
 */
class AccessProbeConcurrencyTest {
    private static final VarHandle COUNTER = JAVA_LONG.varHandle();
    private static final int WRITERS = 2;

    @Test
    void writeProbeLosesNoConcurrentAtomicIncrement() throws Exception {
        Lost r = race(a -> AccessProbe.canWrite(a, AccessProbe.MAX_LENGTH), 20_000);
        System.out.println("AccessProbeConcurrencyTest: " + r + ", lost " + r.lost());
        assertTrue(r.expected() > r.probes(), "the writers wrote while the probe ran: " + r);
        assertEquals(0, r.lost(), "increments lost to the probe: " + r);
    }

    @Test
    void brokenTwinThatWritesTheBytesBackLosesIncrements() throws Exception {
        Lost r = race(AccessProbeConcurrencyTest::readAndWriteBack, 20_000);
        System.out.println("AccessProbeConcurrencyTest: " + r + ", lost " + r.lost());
        assertTrue(r.lost() > 0, "the harness must catch the old probe losing updates: " + r);
    }

    /** What one race gave. */
    record Lost(long expected, long counted, long probes) {
        long lost() {
            return expected - counted;
        }
    }

    /**
     * {@code WRITERS} threads add 1 to the page's first word (atomic getAndAdd) until told to stop, while this
     * thread probes the word {@code probes} times; then the word must hold every increment the writers made.
     */
    private static Lost race(LongPredicate probe, int probes) throws Exception {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment page = Pages.allocate(arena, 1);
            AtomicBoolean stop = new AtomicBoolean();
            long[] done = new long[WRITERS];
            List<Thread> writers = new ArrayList<>();
            for (int w = 0; w < WRITERS; w++) {
                int id = w;
                writers.add(Thread.ofPlatform().name("probe-writer-" + w).start(() -> {
                    long n = 0;
                    while (!stop.get()) {
                        COUNTER.getAndAdd(page, 0L, 1L);
                        n++;
                    }
                    done[id] = n;
                }));
            }
            long address = page.address();
            try {
                for (int i = 0; i < probes; i++) {
                    assertTrue(probe.test(address), "the page is writable");
                }
            } finally {
                stop.set(true);
                for (Thread t : writers) {
                    t.join();
                }
            }
            long expected = 0;
            for (long d : done) {
                expected += d;
            }
            return new Lost(expected, (long) COUNTER.getVolatile(page, 0L), probes);
        }
    }

    /** The probe as it was before: the kernel reads the bytes into a pipe, then writes them back from it. */
    private static boolean readAndWriteBack(long address) {
        int length = 4096;
        int[] pipe = Sys.pipe2(Sys.O_CLOEXEC | Sys.O_NONBLOCK);
        try {
            Sys.write(pipe[1], address, length);
            Sys.read(pipe[0], address, length);
            return true;
        } catch (NativeException e) {
            if (e.errno() == Errno.EFAULT) {
                return false;
            }
            throw e;
        } finally {
            Sys.close(pipe[0]);
            Sys.close(pipe[1]);
        }
    }
}
