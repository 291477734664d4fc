package dev.pkrseq.tls;

import java.util.List;

import dev.pkrseq.Mapping;

/**
 * Where a thread's TCB and static TLS sit in the address space, and what lies next to them.
 *
 * @param kind how the memory came to be
 * @param mapping the VMA that holds the thread pointer
 * @param below the VMA that ends where {@code mapping} starts, or null when a gap or nothing is there
 * @param above the VMA that starts where {@code mapping} ends, or null when a gap or nothing is there
 */
public record Placement(Kind kind, Mapping mapping, Mapping below, Mapping above) {

    /** How the TCB's memory was allocated. */
    public enum Kind {
        /**
         * At the top of a stack glibc's {@code allocate_stack} mapped for {@code pthread_create}: TCB at the
         * top, static TLS right below it, and the thread's stack growing down from there.
         */
        STACK_TOP,
        /**
         * The process's initial thread: the dynamic loader allocated TCB and static TLS at start-up
         * ({@code init_tls} in elf/rtld.c, through {@code _dl_allocate_tls_storage}). The VMA that holds
         * them may be larger than that allocation: the kernel merges adjacent anonymous mappings with the
         * same permissions.
         */
        LOADER,
        /** Neither witness applies (for example a stack the application supplied). */
        OTHER;

        @Override
        public String toString() {
            return switch (this) {
                case STACK_TOP -> "stack-top";
                case LOADER -> "loader";
                case OTHER -> "other";
            };
        }
    }

    static Placement of(Kind kind, Mapping mapping, List<Mapping> snapshot) {
        Mapping below = null;
        Mapping above = null;
        for (Mapping v : snapshot) {
            if (v.end() == mapping.start()) {
                below = v;
            }
            if (v.start() == mapping.end()) {
                above = v;
            }
        }
        return new Placement(kind, mapping, below, above);
    }

    /**
     * One mapping in words: range, permissions, size and name.
     *
     * @param v the mapping
     * @return for example {@code 7f1a0d824000-7f1a0d920000 rw-p 1008 KiB [anon]}
     */
    public static String describe(Mapping v) {
        return String.format("%x-%x %s %s %s", v.start(), v.end(), v.perms(), size(v.size()),
                v.path().isEmpty() ? "[anon]" : v.path());
    }

    /**
     * A size in the unit people read: bytes, KiB or MiB.
     *
     * @param bytes the size
     * @return for example {@code 16 KiB}
     */
    public static String size(long bytes) {
        if (bytes >= 1 << 20 && bytes % (1 << 20) == 0) {
            return (bytes >> 20) + " MiB";
        }
        if (bytes >= 1 << 10 && bytes % (1 << 10) == 0) {
            return (bytes >> 10) + " KiB";
        }
        return bytes + " B";
    }

    /**
     * Where the TCB sits, in one sentence.
     *
     * @return the description
     */
    public String describe() {
        String what = switch (kind) {
            case STACK_TOP -> "top of its " + size(mapping.size()) + " stack mapping";
            case LOADER -> "memory the dynamic loader allocated at start-up, in an anonymous mapping of "
                    + size(mapping.size());
            case OTHER -> "a mapping of " + size(mapping.size()) + " (not the top of a glibc-allocated stack)";
        };
        return what + " " + String.format("%x-%x %s", mapping.start(), mapping.end(), mapping.perms())
                + "; below: " + neighbour(below) + "; above: " + neighbour(above);
    }

    private static String neighbour(Mapping v) {
        if (v == null) {
            return "a gap";
        }
        String note = v.perms().startsWith("---") ? " (no access: guard pages)" : "";
        return size(v.size()) + " " + v.perms() + " " + v.name() + note;
    }
}
