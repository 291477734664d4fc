package dev.pkrseq.proc;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** /proc/cpuinfo, as far as pkrseq reads it. */
public final class CpuInfo {
    private CpuInfo() {
    }

    /**
     * The CPU flags the kernel reports for the first CPU in /proc/cpuinfo.
     *
     * @return the flags, space separated and padded with a space on each side, or " " when unreadable
     */
    public static String flags() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("flags")) {
                    int colon = line.indexOf(':');
                    return " " + line.substring(colon + 1).trim() + " ";
                }
            }
        } catch (IOException | RuntimeException e) {
            return " ";
        }
        return " ";
    }
}
