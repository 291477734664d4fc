package dev.pkrseq.lab.rseq;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import dev.pkrseq.sys.ThreadCalls;
import dev.pkrseq.testing.Features;
import dev.pkrseq.testing.GnuAs;
import org.junit.jupiter.api.Test;

/** The native wait-then-spin loop: its bytes, checked twice, and what a thread in it does. */
class NativeSpinTest {

    @Test
    void codeIsWhatGnuAsMakesOfItsSource() throws Exception {
        assertArrayEquals(NativeSpin.CODE, GnuAs.assemble(NativeSpin.SOURCE));
    }

    @Test
    void listingInTheJavadocShowsTheSameBytes() throws Exception {
        String source = Files.readString(Path.of("src/main/java/dev/pkrseq/lab/rseq/NativeSpin.java"));
        Matcher m = Pattern.compile("(?m)^ \\* [0-9a-f]{4}  ((?:[0-9a-f]{2} )+) ").matcher(source);
        ByteArrayOutputStream listed = new ByteArrayOutputStream();
        while (m.find()) {
            for (String b : m.group(1).trim().split(" ")) {
                listed.write(Integer.parseInt(b, 16));
            }
        }
        assertArrayEquals(NativeSpin.CODE, listed.toByteArray());
    }

    @Test
    void threadSleepsUntilReleasedSpinsSleepsWhenHeldAndReturnsWhenStopped() throws Exception {
        Features.assumeX86_64();
        MemorySegment go = NativeSpin.newFlag();
        MemorySegment stop = NativeSpin.newFlag();
        AtomicInteger tid = new AtomicInteger();
        Thread t = Thread.ofPlatform().daemon(true).name("spin-test").start(() -> {
            tid.set(ThreadCalls.gettid());
            NativeSpin.waitThenSpin(go, stop);
        });
        while (tid.get() == 0) {
            Thread.sleep(5);
        }
        assertStaysAsleep(tid.get(), "asleep in the futex until released", "no CPU while asleep");
        long sleptCpu = cpuTicks(tid.get());
        NativeSpin.release(go);
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (cpuTicks(tid.get()) - sleptCpu < 20 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertTrue(cpuTicks(tid.get()) - sleptCpu >= 20, "spinning: at least 200 ms of CPU within 5 s");
        assertTrue(t.isAlive());
        NativeSpin.hold(go);
        assertStaysAsleep(tid.get(), "asleep again once go is cleared", "no CPU while held");
        NativeSpin.release(go);
        NativeSpin.set(stop);
        t.join(5000);
        assertFalse(t.isAlive(), "returned once stopped");
    }

    /**
     * Waits (5 s at most) until the task sleeps, then asserts that it still sleeps 300 ms later and used
     * no more than one clock tick of CPU meanwhile.
     */
    private static void assertStaysAsleep(int tid, String asleep, String noCpu) throws Exception {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (state(tid) != 'S' && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        long before = cpuTicks(tid);
        Thread.sleep(300);
        assertEquals('S', state(tid), asleep);
        assertTrue(cpuTicks(tid) - before <= 1, noCpu);
    }

    /** The task's state letter from /proc. */
    private static char state(int tid) throws Exception {
        String stat = Files.readString(Path.of("/proc/self/task/" + tid + "/stat"));
        return stat.charAt(stat.lastIndexOf(')') + 2);
    }

    /** utime + stime in clock ticks (10 ms). */
    private static long cpuTicks(int tid) throws Exception {
        String stat = Files.readString(Path.of("/proc/self/task/" + tid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }
}
