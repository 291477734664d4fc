package dev.pkrseq.sys;

import java.util.StringJoiner;

/** Renders native arguments the way C programmers read them; used only on failure or while recording. */
final class Fmt {
    private Fmt() {
    }

    static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }

    private static final int[] PROT_BITS = {MemoryCalls.PROT_READ, MemoryCalls.PROT_WRITE, MemoryCalls.PROT_EXEC};
    private static final String[] PROT_NAMES = {"PROT_READ", "PROT_WRITE", "PROT_EXEC"};
    private static final int[] MAP_BITS = {MemoryCalls.MAP_PRIVATE, MemoryCalls.MAP_ANONYMOUS,
        MemoryCalls.MAP_FIXED_NOREPLACE, MemoryCalls.MAP_POPULATE};
    private static final String[] MAP_NAMES = {"MAP_PRIVATE", "MAP_ANONYMOUS", "MAP_FIXED_NOREPLACE", "MAP_POPULATE"};

    static String prot(int prot) {
        return flags(prot, PROT_BITS, PROT_NAMES, "PROT_NONE");
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
        return flags(flags, MAP_BITS, MAP_NAMES, "0");
    }

    /** Or'ed flag names, unknown bits in hex; {@code none} for no bit at all. */
    private static String flags(int value, int[] bits, String[] names, String none) {
        StringJoiner j = new StringJoiner("|");
        int known = 0;
        for (int i = 0; i < bits.length; i++) {
            known |= bits[i];
            if ((value & bits[i]) != 0) {
                j.add(names[i]);
            }
        }
        int rest = value & ~known;
        if (rest != 0) {
            j.add(hex(rest));
        }
        return j.length() == 0 ? none : j.toString();
    }
}
