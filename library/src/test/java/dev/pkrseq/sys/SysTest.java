package dev.pkrseq.sys;

import dev.pkrseq.UnavailableException;
import dev.pkrseq.Errno;
import dev.pkrseq.NativeException;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import dev.pkrseq.testing.AnonPages;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Test;

/** The native layer's basics, one observed behaviour per test. */
class SysTest {

    @Test
    void pkeyFreeOfUnallocatedKeyFailsWithEinvalByName() {
        NativeException e = assertThrows(NativeException.class, () -> PkeyCalls.pkeyFree(99));
        assertEquals(Errno.EINVAL, e.errno());
        assertEquals(22, e.errnoValue());
        assertEquals("pkey_free", e.call());
        assertEquals("99", e.arguments());
        assertEquals("pkey_free(99) failed: EINVAL (Invalid argument)", e.getMessage());
    }

    @Test
    void failureMessageNamesArgumentsInCTerms() {
        try (AnonPages pages = AnonPages.map(2, MemoryCalls.PROT_READ)) {
            pages.unmap(1);
            long a = pages.address();
            NativeException e = assertThrows(NativeException.class,
                    () -> MemoryCalls.mprotect(a, pages.size(), MemoryCalls.PROT_READ | MemoryCalls.PROT_WRITE));
            assertEquals(Errno.ENOMEM, e.errno());
            assertEquals("mprotect(0x" + Long.toHexString(a) + ", 8192, PROT_READ|PROT_WRITE) failed: ENOMEM (Cannot allocate memory)",
                    e.getMessage());
        }
    }

    @Test
    void errnoIsCapturedPerThread() throws Exception {
        // Two threads fail with different errnos at once; each must see its own.
        List<Thread> threads = new ArrayList<>();
        Set<String> wrong = ConcurrentHashMap.newKeySet();
        for (int t = 0; t < 4; t++) {
            boolean einval = t % 2 == 0;
            threads.add(Thread.ofPlatform().start(() -> {
                for (int i = 0; i < 2000; i++) {
                    try {
                        if (einval) {
                            PkeyCalls.pkeyFree(99);
                        } else {
                            MemoryCalls.close(-1);
                        }
                        wrong.add("call succeeded");
                    } catch (NativeException e) {
                        Errno want = einval ? Errno.EINVAL : Errno.EBADF;
                        if (e.errno() != want) {
                            wrong.add(e.getMessage());
                        }
                    }
                }
            }));
        }
        for (Thread t : threads) {
            t.join();
        }
        assertTrue(wrong.isEmpty(), "errno crossed threads: " + wrong);
    }

    @Test
    void threadPointerEqualsPthreadSelf() {
        Features.assumeX86_64();
        assertEquals(ThreadCalls.pthreadSelf(), LoaderCalls.threadPointer());
    }

    @Test
    void threadPointerDiffersBetweenThreads() throws Exception {
        Features.assumeX86_64();
        long[] other = new long[1];
        Thread t = Thread.ofPlatform().start(() -> other[0] = LoaderCalls.threadPointer());
        t.join();
        assertTrue(other[0] != 0 && other[0] != LoaderCalls.threadPointer());
    }

    @Test
    void gettidIsThisThreadsTaskAndPidIsProcess() {
        assertEquals(ProcessHandle.current().pid(), ThreadCalls.getpid());
        assertTrue(java.nio.file.Files.isDirectory(java.nio.file.Path.of("/proc/self/task/" + ThreadCalls.gettid())));
    }

    @Test
    void pageSizeMatchesAuxv() {
        assertEquals(LoaderCalls.getauxval(LoaderCalls.AT_PAGESZ), MemoryCalls.pageSize());
    }

    @Test
    void unameAndGlibcVersionAreReadable() {
        Uname u = LoaderCalls.uname();
        assertEquals("Linux", u.sysname());
        assertTrue(!u.release().isEmpty());
        LoaderCalls.glibcVersion().ifPresent(v -> assertTrue(v.matches("\\d+\\.\\d+.*"), v));
    }

    @Test
    void onlineCpusIsPositive() {
        assertTrue(ThreadCalls.onlineCpus() >= 1);
    }

    @Test
    void errnoKnowsItsTextAndUnknownNumbers() {
        assertEquals("No space left on device", Errno.ENOSPC.text());
        assertEquals(Errno.UNKNOWN, Errno.of(4095));
        assertEquals(Errno.EFAULT, Errno.of(14));
    }

    @Test
    void pkruInstructionsAreRefusedWhereTheKernelDidNotEnableThem() {
        if (PkeyCalls.pkruUsable()) {
            assertEquals(0, PkeyCalls.pkeyGet(0), "key 0 is open for the JVM");
        } else {
            UnavailableException e = assertThrows(UnavailableException.class, () -> PkeyCalls.pkeyGet(1));
            assertEquals(UnavailableException.Feature.PKRU, e.feature());
            assertTrue(e.getMessage().contains("SIGILL"), e.getMessage());
        }
    }

    @Test
    void syscallTableRefusesOtherArchitecturesByName() {
        if (Syscall.architectureSupported()) {
            assertEquals(334, Syscall.RSEQ.number());
            assertEquals(329, Syscall.PKEY_MPROTECT.number());
        } else {
            UnavailableException e = assertThrows(UnavailableException.class, Syscall.RSEQ::number);
            assertEquals(UnavailableException.Feature.ARCHITECTURE, e.feature());
            assertTrue(e.getMessage().startsWith("unsupported architecture: "));
        }
    }

    @Test
    void pthreadSigmaskBlocksForThisThreadAndGivesBackTheOldMask() throws Exception {
        long usr2 = 1L << (ThreadCalls.SIGUSR2 - 1);
        long before = ThreadCalls.pthreadSigmask(ThreadCalls.SIG_BLOCK, usr2);
        try {
            assertEquals(0, before & usr2, "the test thread does not block SIGUSR2 to begin with");
            assertTrue((sigBlk() & usr2) != 0, "SigBlk shows SIGUSR2 blocked");
        } finally {
            long during = ThreadCalls.pthreadSigmask(ThreadCalls.SIG_SETMASK, before);
            assertTrue((during & usr2) != 0);
        }
        assertEquals(before, sigBlk());
    }

    @Test
    void tgkillWithSignalZeroFindsTheThreadAndEsrchOtherwise() {
        Features.assumeX86_64();
        ThreadCalls.tgkill(ThreadCalls.getpid(), ThreadCalls.gettid(), 0);
        NativeException e = assertThrows(NativeException.class, () -> ThreadCalls.tgkill(ThreadCalls.getpid(), Integer.MAX_VALUE, 0));
        assertEquals(Errno.ESRCH, e.errno());
    }

    private static long sigBlk() throws java.io.IOException {
        for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/thread-self/status"))) {
            if (line.startsWith("SigBlk:")) {
                return Long.parseUnsignedLong(line.substring(7).strip(), 16);
            }
        }
        throw new AssertionError("no SigBlk line");
    }
}
