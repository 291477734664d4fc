package dev.pkrseq.sys;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.PaddingLayout;
import java.lang.foreign.StructLayout;
import java.util.List;
import java.util.stream.Stream;

/**
 * The C library's and the loader's structs, as layouts with the C field names (x86_64, LP64). Every
 * offset pkrseq uses into one of them comes from here; a test compares them with the C headers.
 */
public final class CStructs {
    /** {@code struct dl_phdr_info} of {@code <link.h>}, as far as glibc 2.36 fills it. */
    public static final StructLayout DL_PHDR_INFO = MemoryLayout.structLayout(
            JAVA_LONG.withName("dlpi_addr"),
            ADDRESS.withName("dlpi_name"),
            ADDRESS.withName("dlpi_phdr"),
            JAVA_SHORT.withName("dlpi_phnum"),
            MemoryLayout.paddingLayout(6),
            JAVA_LONG.withName("dlpi_adds"),
            JAVA_LONG.withName("dlpi_subs"),
            JAVA_LONG.withName("dlpi_tls_modid"),
            ADDRESS.withName("dlpi_tls_data")).withName("dl_phdr_info");

    /** {@code Elf64_Phdr} of {@code <elf.h>}. */
    public static final StructLayout ELF64_PHDR = MemoryLayout.structLayout(
            JAVA_INT.withName("p_type"),
            JAVA_INT.withName("p_flags"),
            JAVA_LONG.withName("p_offset"),
            JAVA_LONG.withName("p_vaddr"),
            JAVA_LONG.withName("p_paddr"),
            JAVA_LONG.withName("p_filesz"),
            JAVA_LONG.withName("p_memsz"),
            JAVA_LONG.withName("p_align")).withName("Elf64_Phdr");

    /** One {@code char[65]} field of {@code struct utsname} ({@code _UTSNAME_LENGTH} on Linux). */
    private static final MemoryLayout UTSNAME_FIELD = MemoryLayout.sequenceLayout(65, java.lang.foreign.ValueLayout.JAVA_BYTE);

    /** {@code struct utsname} of {@code <sys/utsname.h>} (glibc, with {@code domainname}): six char[65]. */
    public static final StructLayout UTSNAME = MemoryLayout.structLayout(
            Stream.of("sysname", "nodename", "release", "version", "machine", "domainname")
                    .map(UTSNAME_FIELD::withName).toArray(MemoryLayout[]::new)).withName("utsname");

    /**
     * The head of glibc's {@code tcbhead_t} (sysdeps/x86_64/nptl/tls.h, no public header): {@code void *tcb}
     * (the thread pointer itself), {@code dtv_t *dtv}, {@code void *self}. The thread pointer points at it.
     */
    public static final StructLayout TCBHEAD = MemoryLayout.structLayout(
            ADDRESS.withName("tcb"),
            ADDRESS.withName("dtv"),
            ADDRESS.withName("self")).withName("tcbhead_t");

    /**
     * One entry of glibc's DTV, {@code dtv_t} (elf/dl-dtv.h, no public header) as a pointer pair:
     * {@code void *val} (the module's TLS block) and {@code void *to_free}. Entry 0 holds the generation
     * counter instead; {@code dtv[modid]} is module {@code modid}'s.
     */
    public static final StructLayout DTV_ENTRY = MemoryLayout.structLayout(
            ADDRESS.withName("val"),
            ADDRESS.withName("to_free")).withName("dtv_pointer");

    /** {@code tcbhead_t.tcb}'s offset from the thread pointer. */
    public static final long TCB_TCB = offset(TCBHEAD, "tcb");
    /** {@code tcbhead_t.dtv}'s offset from the thread pointer. */
    public static final long TCB_DTV = offset(TCBHEAD, "dtv");
    /** {@code tcbhead_t.self}'s offset from the thread pointer. */
    public static final long TCB_SELF = offset(TCBHEAD, "self");
    /** {@code sizeof(dtv_t)}: the stride of the DTV array. */
    public static final long DTV_ENTRY_SIZE = DTV_ENTRY.byteSize();
    /** {@code dtv_t.pointer.to_free}'s offset within an entry. */
    public static final long DTV_TO_FREE = offset(DTV_ENTRY, "to_free");

    private CStructs() {
    }

    /**
     * Reads a struct of integer and pointer fields, in the layout's order, padding skipped: 2-byte fields
     * unsigned, 4-byte fields as C's int, pointers as addresses. A field that ends past the segment (a
     * shorter struct of an older C library) reads as 0.
     *
     * @param s the struct's memory
     * @param struct its layout
     * @return one value per field
     */
    static long[] read(MemorySegment s, StructLayout struct) {
        List<MemoryLayout> members = struct.memberLayouts();
        long[] out = new long[(int) members.stream().filter(f -> !(f instanceof PaddingLayout)).count()];
        int i = 0;
        long offset = 0;
        for (MemoryLayout f : members) {
            if (!(f instanceof PaddingLayout)) {
                if (offset + f.byteSize() <= s.byteSize()) {
                    out[i] = switch ((int) f.byteSize()) {
                        case 2 -> Short.toUnsignedLong(s.get(JAVA_SHORT, offset));
                        case 4 -> s.get(JAVA_INT, offset);
                        case 8 -> s.get(JAVA_LONG, offset);
                        default -> throw new IllegalArgumentException(struct.name().orElse("struct") + " has a field of "
                                + f.byteSize() + " bytes");
                    };
                }
                i++;
            }
            offset += f.byteSize();
        }
        return out;
    }

    /**
     * A field's offset.
     *
     * @param struct the struct
     * @param field the C field name
     * @return its byte offset
     */
    public static long offset(StructLayout struct, String field) {
        return struct.byteOffset(groupElement(field));
    }
}
