package dev.pkrseq.pkey;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;

import dev.pkrseq.lab.AccessProbe;
import dev.pkrseq.lab.ThreadProbe;
import dev.pkrseq.sys.MemoryCalls;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Rights are per thread: threads change theirs at the same time, and none sees another's. */
@Tag("pku")
class PerThreadRightsTest {
    private static final Protection RW = Protection.READ_WRITE;

    @Test
    void threadsHoldDifferentRightsForTheSameKeyAtOnce() throws Exception {
        Features.assumePkeys();
        int threads = 6;
        try (ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE); Arena arena = Arena.ofShared()) {
            MemorySegment page = Pages.allocate(arena, 1);
            key.protect(page, RW);
            CyclicBarrier set = new CyclicBarrier(threads);
            CyclicBarrier checked = new CyclicBarrier(threads);
            Set<String> wrong = ConcurrentHashMap.newKeySet();
            List<Thread> started = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                Rights mine = Rights.values()[i % 3];
                started.add(Thread.ofPlatform().name("rights-" + i).start(() -> {
                    try {
                        for (int round = 0; round < 20; round++) {
                            try (RightsScope _ = key.withRights(mine)) {
                                set.await(60, TimeUnit.SECONDS); // every thread now holds its own rights
                                if (key.rights() != mine) {
                                    wrong.add(Thread.currentThread().getName() + " reads " + key.rights() + ", set " + mine);
                                }
                                boolean read = AccessProbe.canRead(page);
                                boolean write = AccessProbe.canWrite(page);
                                if (read != (mine != Rights.NO_ACCESS) || write != (mine == Rights.READ_WRITE)) {
                                    wrong.add(Thread.currentThread().getName() + " with " + mine + ": kernel read " + read
                                            + ", write " + write);
                                }
                                checked.await(60, TimeUnit.SECONDS);
                            }
                        }
                    } catch (Exception e) {
                        wrong.add(Thread.currentThread().getName() + ": " + e);
                    }
                }));
            }
            for (Thread t : started) {
                t.join();
            }
            assertTrue(wrong.isEmpty(), wrong.toString());
            assertEquals(Rights.READ_WRITE, key.rights(), "the allocating thread's rights never changed");
            assertTrue(AccessProbe.canWrite(page));
        }
    }

    @Test
    void oneThreadsDenialDoesNotShowInAnother() {
        Features.assumePkeys();
        try (ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE);
                Arena arena = Arena.ofShared();
                ThreadProbe other = ThreadProbe.start("other")) {
            MemorySegment page = Pages.allocate(arena, 1);
            key.protect(page, RW);
            other.run(() -> key.setRights(Rights.READ_WRITE));
            try (RightsScope _ = key.withRights(Rights.NO_ACCESS)) {
                assertEquals(Rights.READ_WRITE, other.rights(key));
                assertTrue(other.canWrite(page));
                assertTrue(!AccessProbe.canRead(page));
            }
            other.run(() -> key.setRights(Rights.NO_ACCESS));
            assertEquals(Rights.READ_WRITE, key.rights());
            assertTrue(AccessProbe.canWrite(page));
            assertTrue(!other.canRead(page));
        }
    }
}
