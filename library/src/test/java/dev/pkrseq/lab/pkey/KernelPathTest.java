package dev.pkrseq.lab.pkey;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pkrseq.lab.Experiment;
import dev.pkrseq.lab.Experiments;
import java.util.List;

import dev.pkrseq.pkey.Rights;
import dev.pkrseq.testing.Features;
import dev.pkrseq.testing.PkeyState;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The kernel-path matrix, one test per cell, named for what this kernel does: for a page under a key the
 * thread holds with no-access or no-write, the thread's own copies fail with EFAULT where its rights deny
 * them, the foreign paths (process_vm_readv/writev, /proc/self/mem) get through, a signal frame on an
 * alternate stack in the page is written (Linux 6.12+), and struct rseq in the page kills the thread.
 * Each cell leaves no key, page or PKRU change behind.
 */
@Tag("pku")
class KernelPathTest {

    static KernelPaths.Row assertCell(String path, Rights rights, String observed) {
        Features.assumePkeys();
        PkeyState before = PkeyState.now();
        KernelPaths.Row r = KernelPaths.run(KernelPaths.path(path), rights);
        assertEquals(observed, r.observed(), path + " under " + rights + ": " + r.detail());
        assertEquals(r.expected(), r.observed(), "the matrix's own expectation for " + path + " under " + rights);
        before.assertUnchangedBy(path);
        return r;
    }

    @Test
    void theMatrixHasAtLeastTwelvePathsUnderTwoRightsEachAnExperiment() {
        assertTrue(KernelPaths.paths().size() >= 12, "paths: " + KernelPaths.paths().size());
        assertEquals(List.of(Rights.NO_ACCESS, Rights.NO_WRITE), KernelPaths.RIGHTS);
        List<String> ids = Experiments.all().stream().map(Experiment::id).toList();
        for (KernelPaths.KernelPath p : KernelPaths.paths()) {
            assertTrue(ids.contains(KernelPathExperiments.PREFIX + p.id()), p.id() + " is registered as an experiment");
        }
    }

    @Test
    void signalFrameOnAnAlternateStackUnderNoAccessIsWrittenFromLinux612() {
        assertCell("sigaltstack", Rights.NO_ACCESS, KernelPaths.signalFrameWritable() ? "survived" : "SIGSEGV");
    }

    @Test
    void signalFrameOnAnAlternateStackUnderNoWriteIsWrittenFromLinux612() {
        assertCell("sigaltstack", Rights.NO_WRITE, KernelPaths.signalFrameWritable() ? "survived" : "SIGSEGV");
    }

    @Test
    void writeFromAPageUnderNoAccessFailsWithEfault() {
        assertCell("write", Rights.NO_ACCESS, "EFAULT");
    }

    @Test
    void writeFromAPageUnderNoWriteSucceeds() {
        assertCell("write", Rights.NO_WRITE, "ok");
    }

    @Test
    void readIntoAPageUnderNoAccessFailsWithEfault() {
        assertCell("read", Rights.NO_ACCESS, "EFAULT");
    }

    @Test
    void readIntoAPageUnderNoWriteFailsWithEfault() {
        assertCell("read", Rights.NO_WRITE, "EFAULT");
    }

    @Test
    void pwriteFromAPageUnderNoAccessFailsWithEfault() {
        assertCell("pwrite", Rights.NO_ACCESS, "EFAULT");
    }

    @Test
    void pwriteFromAPageUnderNoWriteSucceeds() {
        assertCell("pwrite", Rights.NO_WRITE, "ok");
    }

    @Test
    void preadIntoAPageUnderNoAccessFailsWithEfault() {
        assertCell("pread", Rights.NO_ACCESS, "EFAULT");
    }

    @Test
    void preadIntoAPageUnderNoWriteFailsWithEfault() {
        assertCell("pread", Rights.NO_WRITE, "EFAULT");
    }

    @Test
    void writevFromAPageUnderNoAccessFailsWithEfault() {
        assertCell("writev", Rights.NO_ACCESS, "EFAULT");
    }

    @Test
    void writevFromAPageUnderNoWriteSucceeds() {
        assertCell("writev", Rights.NO_WRITE, "ok");
    }

    @Test
    void readvIntoAPageUnderNoAccessFailsWithEfault() {
        assertCell("readv", Rights.NO_ACCESS, "EFAULT");
    }

    @Test
    void readvIntoAPageUnderNoWriteFailsWithEfault() {
        assertCell("readv", Rights.NO_WRITE, "EFAULT");
    }

    @Test
    void sendFromAPageUnderNoAccessFailsWithEfault() {
        assertCell("send", Rights.NO_ACCESS, "EFAULT");
    }

    @Test
    void sendFromAPageUnderNoWriteSucceeds() {
        assertCell("send", Rights.NO_WRITE, "ok");
    }

    @Test
    void recvIntoAPageUnderNoAccessFailsWithEfault() {
        assertCell("recv", Rights.NO_ACCESS, "EFAULT");
    }

    @Test
    void recvIntoAPageUnderNoWriteFailsWithEfault() {
        assertCell("recv", Rights.NO_WRITE, "EFAULT");
    }

    @Test
    void vmspliceOfAPageUnderNoAccessFailsWithEfault() {
        assertCell("vmsplice", Rights.NO_ACCESS, "EFAULT");
    }

    @Test
    void vmspliceOfAPageUnderNoWriteSucceeds() {
        assertCell("vmsplice", Rights.NO_WRITE, "ok");
    }

    @Test
    void getrandomIntoAPageUnderNoAccessFailsWithEfault() {
        assertCell("getrandom", Rights.NO_ACCESS, "EFAULT");
    }

    @Test
    void getrandomIntoAPageUnderNoWriteFailsWithEfault() {
        assertCell("getrandom", Rights.NO_WRITE, "EFAULT");
    }

    @Test
    void futexWaitOnAWordUnderNoAccessFailsWithEfault() {
        assertCell("futex-wait", Rights.NO_ACCESS, "EFAULT");
    }

    @Test
    void futexWaitOnAWordUnderNoWriteReadsItAndReturnsEagain() {
        assertCell("futex-wait", Rights.NO_WRITE, "EAGAIN");
    }

    @Test
    void futexWakeOpOnAWordUnderNoAccessFailsWithEfault() {
        assertCell("futex-wake-op", Rights.NO_ACCESS, "EFAULT");
    }

    @Test
    void futexWakeOpOnAWordUnderNoWriteFailsWithEfault() {
        assertCell("futex-wake-op", Rights.NO_WRITE, "EFAULT");
    }

    @Test
    void processVmReadvOfAPageUnderNoAccessGetsThrough() {
        assertCell("process-vm-readv", Rights.NO_ACCESS, "ok");
    }

    @Test
    void processVmReadvOfAPageUnderNoWriteGetsThrough() {
        assertCell("process-vm-readv", Rights.NO_WRITE, "ok");
    }

    @Test
    void processVmWritevToAPageUnderNoAccessGetsThrough() {
        assertCell("process-vm-writev", Rights.NO_ACCESS, "ok");
    }

    @Test
    void processVmWritevToAPageUnderNoWriteGetsThrough() {
        assertCell("process-vm-writev", Rights.NO_WRITE, "ok");
    }

    @Test
    void procSelfMemPreadOfAPageUnderNoAccessGetsThrough() {
        assertCell("proc-mem-pread", Rights.NO_ACCESS, "ok");
    }

    @Test
    void procSelfMemPreadOfAPageUnderNoWriteGetsThrough() {
        assertCell("proc-mem-pread", Rights.NO_WRITE, "ok");
    }

    @Test
    void procSelfMemPwriteToAPageUnderNoAccessGetsThrough() {
        assertCell("proc-mem-pwrite", Rights.NO_ACCESS, "ok");
    }

    @Test
    void procSelfMemPwriteToAPageUnderNoWriteGetsThrough() {
        assertCell("proc-mem-pwrite", Rights.NO_WRITE, "ok");
    }

    @Test
    void rseqAreaInAPageUnderNoAccessKillsTheThreadWithSigsegv() {
        assertCell("rseq-area", Rights.NO_ACCESS, "SIGSEGV");
    }

    @Test
    void rseqAreaInAPageUnderNoWriteKillsTheThreadWithSigsegv() {
        assertCell("rseq-area", Rights.NO_WRITE, "SIGSEGV");
    }
}
