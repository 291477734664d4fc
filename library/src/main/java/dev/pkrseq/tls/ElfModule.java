package dev.pkrseq.tls;

import dev.pkrseq.sys.LoadedObject;

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
record ElfModule(String path, long base, int programHeaders, long tlsModuleId, long tlsBlock, TlsSegment tls) {

    /**
     * A PT_TLS program header.
     *
     * @param vaddr {@code p_vaddr}: the TLS initialisation image, relative to the load bias
     * @param fileSize {@code p_filesz}: bytes of initialised data (.tdata)
     * @param memorySize {@code p_memsz}: bytes of the block, .tbss included
     * @param align {@code p_align}
     */
    record TlsSegment(long vaddr, long fileSize, long memorySize, long align) {
    }

    /** {@code PT_TLS}: the p_type of the TLS program header ({@code <elf.h>}). */
    static final int PT_TLS = 7;

    /**
     * Decodes what the loader reported: the object's PT_TLS header, if it has one.
     *
     * @param o one object of {@code dl_iterate_phdr}
     * @return the module
     */
    static ElfModule of(LoadedObject o) {
        TlsSegment tls = null;
        for (LoadedObject.ProgramHeader h : o.programHeaders()) {
            if (h.type() == PT_TLS) {
                tls = new TlsSegment(h.vaddr(), h.fileSize(), h.memorySize(), h.align());
            }
        }
        return new ElfModule(o.path(), o.base(), o.programHeaders().size(), o.tlsModuleId(), o.tlsBlock(), tls);
    }
}
