package dev.pkrseq.tls;

import java.util.List;

import dev.pkrseq.Mapping;

/**
 * One page a retag rule covers, with what is on it.
 *
 * @param address the page's first byte
 * @param pageBelowTcb 0 for the TCB page, 1 for the page below it, and so on (negative above)
 * @param mapping the VMA that holds the page, or null when nothing is mapped there (a pkey_mprotect
 *     over it would fail with ENOMEM)
 * @param holds what the page holds, in words: {@code TCB}, {@code static TLS (libc.so.6)},
 *     {@code thread stack}, {@code DTV}, a module's dynamic TLS, {@code other data}, {@code unmapped}
 */
public record TlsPage(long address, long pageBelowTcb, Mapping mapping, List<String> holds) {

    /**
     * The page's protection key as smaps reports it.
     *
     * @return the key, or null when the page is unmapped or the kernel reports no keys (no pku/ospke)
     */
    public Integer key() {
        return mapping == null ? null : mapping.protectionKey();
    }
}
