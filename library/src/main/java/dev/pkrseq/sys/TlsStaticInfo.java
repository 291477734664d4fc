package dev.pkrseq.sys;

/**
 * glibc's static TLS sizes, from {@code _dl_get_tls_static_info}.
 *
 * @param size {@code dl_tls_static_size}: bytes of static TLS per thread, the TCB included
 * @param align {@code dl_tls_static_align}
 */
public record TlsStaticInfo(long size, long align) {
}
