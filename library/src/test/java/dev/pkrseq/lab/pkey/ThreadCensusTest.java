package dev.pkrseq.lab.pkey;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import dev.pkrseq.sys.Cpuid;
import dev.pkrseq.sys.ThreadCalls;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Test;

/**
 * The census's tracing, on any x86_64 machine: the helper stops and reads every thread, and leaves every
 * one running as before.
 */
class ThreadCensusTest {
    @Test
    void theCensusListsEveryThreadThatExistedThroughoutWithItsKind() {
        Features.assumeX86_64();
        ThreadCensus.Census c = ThreadCensus.take();
        List<Integer> tids = c.threads().stream().map(ThreadCensus.ThreadRights::tid).toList();
        assertTrue(tids.contains(ThreadCalls.gettid()), "the calling thread is listed: " + tids);
        assertTrue(tids.contains(ThreadCalls.getpid()), "the launcher's initial thread is listed");
        assertTrue(c.threads().stream().anyMatch(t -> t.kind().equals("GC")), "a GC thread: " + c.threads());
        assertTrue(c.threads().stream().anyMatch(t -> t.kind().equals("JIT compiler")), "a JIT thread: " + c.threads());
        assertTrue(c.helper().contains("(exit 0)"), c.helper());
        for (ThreadCensus.ThreadRights t : c.threads()) {
            assertTrue(t.pkru() != null || t.error() != null, "tid " + t.tid() + " has a PKRU or says why not");
        }
    }

    @Test
    void noThreadIsLeftStoppedAndABusyThreadRunsOnThroughTheCensus() throws Exception {
        Features.assumeX86_64();
        AtomicLong count = new AtomicLong();
        Thread busy = Thread.ofPlatform().name("pkrseq-busy").start(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                count.incrementAndGet();
            }
        });
        Thread sleeper = Thread.ofPlatform().name("pkrseq-sleeper").start(() -> {
            try {
                Thread.sleep(60_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        try {
            ThreadCensus.take();
            long before = count.get();
            Thread.sleep(200);
            assertTrue(count.get() > before, "the busy thread counts on after the census");
            assertTrue(sleeper.isAlive(), "the sleeper sleeps on (an interrupted sleep would have ended it)");
            List<String> stopped = stoppedThreads(ThreadCalls.getpid());
            assertTrue(stopped.isEmpty(), "threads left stopped: " + stopped);
        } finally {
            busy.interrupt();
            sleeper.interrupt();
            busy.join();
            sleeper.join();
        }
    }

    /** Every thread of a process in a stop ('T', or 't': a tracing stop), from /proc/PID/task/TID/stat. */
    static List<String> stoppedThreads(long pid) throws Exception {
        List<String> out = new java.util.ArrayList<>();
        try (var tasks = Files.list(Path.of("/proc/" + pid + "/task"))) {
            for (Path task : tasks.toList()) {
                String stat;
                try {
                    stat = Files.readString(task.resolve("stat"));
                } catch (java.io.IOException e) {
                    continue; // the thread ended meanwhile
                }
                char state = stat.charAt(stat.lastIndexOf(')') + 2);
                if (state == 't' || state == 'T') {
                    out.add(task.getFileName() + " (" + stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')')) + ") "
                            + state);
                }
            }
        }
        return out;
    }

    @Test
    void brokenTwinTheStoppedCheckSeesAStoppedProcess() throws Exception {
        Features.assumeX86_64();
        Process p = new ProcessBuilder("sleep", "60").start();
        try {
            ThreadCalls.tgkill((int) p.pid(), (int) p.pid(), 19); // SIGSTOP
            List<String> stopped = List.of();
            for (int i = 0; i < 100 && stopped.isEmpty(); i++) {
                Thread.sleep(20);
                stopped = stoppedThreads(p.pid());
            }
            assertEquals(1, stopped.size(), "the check must catch a stopped thread: " + stopped);
        } finally {
            p.destroyForcibly();
            p.waitFor();
        }
    }

    @Test
    void cpuidLeafZeroNamesTheVendor() {
        Features.assumeX86_64();
        int[] r = Cpuid.query(0, 0);
        String vendor = new String(new byte[] {
            (byte) r[1], (byte) (r[1] >> 8), (byte) (r[1] >> 16), (byte) (r[1] >> 24),
            (byte) r[3], (byte) (r[3] >> 8), (byte) (r[3] >> 16), (byte) (r[3] >> 24),
            (byte) r[2], (byte) (r[2] >> 8), (byte) (r[2] >> 16), (byte) (r[2] >> 24)}, java.nio.charset.StandardCharsets.US_ASCII);
        assertTrue(List.of("GenuineIntel", "AuthenticAMD", "HygonGenuine", "TCGTCGTCGTCG").contains(vendor), vendor);
        assertEquals(true, r[0] >= 0xD, "max leaf " + r[0] + " covers 0xD");
    }
}
