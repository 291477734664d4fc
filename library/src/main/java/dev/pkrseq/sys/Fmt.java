package dev.pkrseq.sys;

import java.util.StringJoiner;

/** Renders native arguments the way C programmers read them; used only on failure or while recording. */
final class Fmt {
    private Fmt() {
    }

    static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }

    static String prot(int prot) {
        if (prot == MemoryCalls.PROT_NONE) {
            return "PROT_NONE";
        }
        StringJoiner j = new StringJoiner("|");
        if ((prot & MemoryCalls.PROT_READ) != 0) {
            j.add("PROT_READ");
        }
        if ((prot & MemoryCalls.PROT_WRITE) != 0) {
            j.add("PROT_WRITE");
        }
        if ((prot & MemoryCalls.PROT_EXEC) != 0) {
            j.add("PROT_EXEC");
        }
        int rest = prot & ~(MemoryCalls.PROT_READ | MemoryCalls.PROT_WRITE | MemoryCalls.PROT_EXEC);
        if (rest != 0) {
            j.add(hex(rest));
        }
        return j.toString();
    }

    static String rights(int rights) {
        return switch (rights) {
            case 0 -> "0";
            case PkeyCalls.PKEY_DISABLE_ACCESS -> "PKEY_DISABLE_ACCESS";
            case PkeyCalls.PKEY_DISABLE_WRITE -> "PKEY_DISABLE_WRITE";
            case PkeyCalls.PKEY_DISABLE_ACCESS | PkeyCalls.PKEY_DISABLE_WRITE -> "PKEY_DISABLE_ACCESS|PKEY_DISABLE_WRITE";
            default -> hex(rights);
        };
    }

    static String mapFlags(int flags) {
        StringJoiner j = new StringJoiner("|");
        if ((flags & MemoryCalls.MAP_PRIVATE) != 0) {
            j.add("MAP_PRIVATE");
        }
        if ((flags & MemoryCalls.MAP_ANONYMOUS) != 0) {
            j.add("MAP_ANONYMOUS");
        }
        if ((flags & MemoryCalls.MAP_FIXED_NOREPLACE) != 0) {
            j.add("MAP_FIXED_NOREPLACE");
        }
        if ((flags & MemoryCalls.MAP_POPULATE) != 0) {
            j.add("MAP_POPULATE");
        }
        int rest = flags & ~(MemoryCalls.MAP_PRIVATE | MemoryCalls.MAP_ANONYMOUS | MemoryCalls.MAP_FIXED_NOREPLACE | MemoryCalls.MAP_POPULATE);
        if (rest != 0) {
            j.add(hex(rest));
        }
        return j.length() == 0 ? "0" : j.toString();
    }
}
