package dev.pkrseq.sys;

/**
 * One object the dynamic loader mapped, as {@code dl_iterate_phdr} describes it.
 *
 * @param path {@code dlpi_name}: the path the loader opened, empty for the main program
 * @param base {@code dlpi_addr}: the load bias
 * @param programHeaders {@code dlpi_phnum}
 * @param tlsModuleId {@code dlpi_tls_modid}, 0 when the object has no TLS
 * @param tlsBlock {@code dlpi_tls_data}: the calling thread's TLS block for this object, 0 when it has
 *     none or it is not allocated yet
 * @param tls the PT_TLS segment, or null when the object has no TLS
 */
public record ElfModule(String path, long base, int programHeaders, long tlsModuleId, long tlsBlock, TlsSegment tls) {

    /**
     * A PT_TLS program header.
     *
     * @param vaddr {@code p_vaddr}: the TLS initialisation image, relative to the load bias
     * @param fileSize {@code p_filesz}: bytes of initialised data (.tdata)
     * @param memorySize {@code p_memsz}: bytes of the block, .tbss included
     * @param align {@code p_align}
     */
    public record TlsSegment(long vaddr, long fileSize, long memorySize, long align) {
    }
}
