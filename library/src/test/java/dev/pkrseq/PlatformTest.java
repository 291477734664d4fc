package dev.pkrseq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pkrseq.sys.LoaderCalls;
import dev.pkrseq.sys.MemoryCalls;
import dev.pkrseq.sys.ThreadCalls;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;

/** The platform facts a user reads without the native layer agree with the kernel's own answers. */
class PlatformTest {

    @Test
    void pageSizeIsTheAuxiliaryVectorsAndOnlineCpusTheJvmsCount() {
        assertEquals(LoaderCalls.getauxval(LoaderCalls.AT_PAGESZ), Platform.pageSize());
        assertEquals(MemoryCalls.pageSize(), Platform.pageSize());
        assertTrue(Platform.onlineCpus() >= 1);
        assertTrue(Platform.onlineCpus() >= Runtime.getRuntime().availableProcessors());
        assertEquals(ThreadCalls.schedGetaffinity(0).cardinality(), Platform.allowedCpus());
        assertTrue(Platform.allowedCpus() >= 1 && Platform.allowedCpus() <= Platform.onlineCpus());
    }

    @Test
    void currentTidIsTheTaskNamedInProcSelfTask() {
        int tid = Platform.currentTid();
        assertEquals(ThreadCalls.gettid(), tid);
        assertTrue(Files.isDirectory(Path.of("/proc/self/task/" + tid)), "no /proc/self/task/" + tid);
    }

    @Test
    void kernelReleaseIsProcSysKernelOsrelease() throws Exception {
        assertEquals(Files.readString(Path.of("/proc/sys/kernel/osrelease")).strip(), Platform.kernelRelease());
    }

    @Test
    void architectureSupportedOnlyOnX86_64() {
        String arch = Platform.architecture();
        assertEquals(arch.equals("amd64") || arch.equals("x86_64"), Platform.architectureSupported());
    }

    @Test
    void glibcVersionIsDottedNumbersWhereGlibcRuns() {
        Platform.glibcVersion().ifPresent(v -> assertTrue(v.matches("\\d+\\.\\d+(\\.\\d+)?"), v));
    }
}
