package dev.pkrseq.sys;

import java.util.List;

/**
 * One object the dynamic loader mapped, as {@code dl_iterate_phdr} describes it: the fields of its
 * {@code struct dl_phdr_info} and a copy of its program header table. Decoding the headers is the caller's.
 *
 * @param path {@code dlpi_name}: the path the loader opened, empty for the main program
 * @param base {@code dlpi_addr}: the load bias
 * @param tlsModuleId {@code dlpi_tls_modid}, 0 when the object has no TLS
 * @param tlsBlock {@code dlpi_tls_data}: the calling thread's TLS block for this object, 0 when it has
 *     none or it is not allocated yet
 * @param programHeaders {@code dlpi_phdr[0 .. dlpi_phnum)}, copied
 */
public record LoadedObject(String path, long base, long tlsModuleId, long tlsBlock, List<ProgramHeader> programHeaders) {

    /**
     * An {@code Elf64_Phdr}, copied field by field.
     *
     * @param type {@code p_type}
     * @param flags {@code p_flags}
     * @param offset {@code p_offset}
     * @param vaddr {@code p_vaddr}
     * @param paddr {@code p_paddr}
     * @param fileSize {@code p_filesz}
     * @param memorySize {@code p_memsz}
     * @param align {@code p_align}
     */
    public record ProgramHeader(int type, int flags, long offset, long vaddr, long paddr, long fileSize, long memorySize,
            long align) {
    }
}
