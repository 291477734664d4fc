package dev.pkrseq.sys;

/**
 * What {@code uname(2)} reports.
 *
 * @param sysname "Linux"
 * @param nodename the host name
 * @param release the kernel release, for example "6.18.44"
 * @param version the kernel build string
 * @param machine the hardware, for example "x86_64"
 * @param domainname the NIS domain
 */
public record Uname(String sysname, String nodename, String release, String version, String machine,
        String domainname) {
}
