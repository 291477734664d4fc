package dev.pkrseq.lab.pkey;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.Test;

/**
 * The kernel-path matrix's control: on a page that carries no key, every in-process path moves its bytes,
 * so an EFAULT in the matrix is the key's doing, not the call's. Runs on any x86_64 machine.
 */
class KernelPathControlTest {
    @Test
    void everyInProcessPathMovesItsBytesOnAnUntaggedPage() {
        Features.assumeX86_64();
        for (KernelPaths.KernelPath p : KernelPaths.paths()) {
            if (!p.child()) {
                assertEquals(p.id().equals("futex-wait") ? "EAGAIN" : KernelPaths.OK, KernelPaths.attemptOnPlainPage(p),
                        p.call());
            }
        }
    }
}
