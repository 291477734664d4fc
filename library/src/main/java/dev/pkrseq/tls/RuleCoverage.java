package dev.pkrseq.tls;

import java.util.List;

/**
 * What one retag rule covers for one thread.
 *
 * @param rule the rule
 * @param pages the pages it retags, lowest first, each with its mapping, key and contents
 * @param coversDtv whether the pages include every page of the thread's DTV (the exact rule adds the
 *     DTV page separately; see {@link TlsLayout#pagesToRetag()})
 * @param leftOut the modules whose TLS block for this thread is not wholly on these pages, with
 *     unallocated blocks among them (no page rule can cover a block that does not exist yet)
 */
public record RuleCoverage(PageRule rule, List<TlsPage> pages, boolean coversDtv, List<TlsModule> leftOut) {
}
