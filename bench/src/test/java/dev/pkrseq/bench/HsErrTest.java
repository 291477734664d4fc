package dev.pkrseq.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The summary of a real crash log: {@code hs_err-tlsRetagRestore-dtv-page.log} is the start (header,
 * thread, frames, siginfo) and the memory map of the hs_err that the original
 * {@code TagBench.tlsRetagRestore} (retagging the DTV page) left in the PKU guest (QEMU TCG, Linux 6.12,
 * JDK 25.0.3): G1's refinement thread faulted on the DTV page, a page of a malloc arena.
 */
class HsErrTest {

    @Test
    void summaryNamesSegvPkuerrAndTheMappingThatHoldsTheFaultingAddress(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("hs_err_pid239.log");
        try (var in = HsErrTest.class.getResourceAsStream("/hs_err-tlsRetagRestore-dtv-page.log")) {
            Files.copy(in, log);
        }
        assertEquals(List.of(
                "#  SIGSEGV (0xb) at pc=0x00007f81d998d13c, pid=239, tid=246",
                "# Problematic frame:",
                "# V  [libjvm.so+0x95613c]  G1SurvRateGroup::accum_surv_rate_pred(unsigned int) const+0xc",
                "Current thread (0x00007f81d40a9970): ConcurrentGCThread \"G1 Refine#0\" [id=246,"
                        + " stack(0x00007f81c4b00000,0x00007f81c4c00000) (1024K)]",
                "top frames:",
                "  V  [libjvm.so+0x95613c]  G1SurvRateGroup::accum_surv_rate_pred(unsigned int) const+0xc",
                "  V  [libjvm.so+0x93a2d3]  G1Policy::calculate_young_desired_length(unsigned long, unsigned long,"
                        + " unsigned long) const+0x333",
                "  V  [libjvm.so+0x93a381]  G1Policy::revise_young_list_target_length(unsigned long, unsigned long)+0x61",
                "  V  [libjvm.so+0x8e4bcc]  G1ConcurrentRefine::adjust_threads_periodically()+0x16c",
                "  V  [libjvm.so+0x8e5378]  G1PrimaryConcurrentRefineThread::do_refinement_step()+0x18",
                "siginfo: si_signo: 11 (SIGSEGV), si_code: 4 (unknown: SEGV_PKUERR, a protection-key fault),"
                        + " si_addr: 0x00007f81d41c5988",
                "si_addr lies in 7f81d4000000-7f81d41c8000 rw-p 00000000 00:00 0"), HsErr.summary(log));
        assertEquals(List.of("hs_err_pid239.log"), List.copyOf(HsErr.list(dir)));
    }

    @Test
    void anUnreadableLogSaysSoInsteadOfFailingTheReport(@TempDir Path dir) {
        assertEquals(1, HsErr.summary(dir.resolve("hs_err_pid1.log")).size());
    }
}
