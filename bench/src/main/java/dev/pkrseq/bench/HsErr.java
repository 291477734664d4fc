package dev.pkrseq.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The crash logs a dead JVM leaves (HotSpot's {@code hs_err_pid<pid>.log}, the JIT's {@code replay_pid<pid>.log}),
 * and the few lines of an hs_err that say what happened.
 */
final class HsErr {
    private static final Pattern CRASH_FILE = Pattern.compile("(hs_err|replay)_pid\\d+\\.log");
    private static final Pattern SIGINFO = Pattern.compile(
            "^siginfo: si_signo: (\\d+) \\(\\w+\\), si_code: (-?\\d+) \\(([^)]*)\\)(?:.*?si_addr: 0x([0-9a-fA-F]+))?");
    private static final Pattern MAPPING = Pattern.compile("^([0-9a-f]+)-([0-9a-f]+) (\\S+)\\s.*$");
    private static final int FRAMES = 5;
    /** Linux's si_code for a protection-key fault; HotSpot prints it as "unknown". */
    private static final int SEGV_PKUERR = 4;

    private HsErr() {
    }

    /** The JVM options that send a JVM's crash logs into {@code dir} instead of its working directory. */
    static List<String> jvmArgs(Path dir) {
        Path d = dir.toAbsolutePath();
        return List.of("-XX:ErrorFile=" + d.resolve("hs_err_pid%p.log"), "-XX:ReplayDataFile=" + d.resolve("replay_pid%p.log"));
    }

    /**
     * The crash logs in a folder.
     *
     * @param dir the folder
     * @return their names, sorted; empty when the folder does not exist
     * @throws IOException when the folder cannot be listed
     */
    static TreeSet<String> list(Path dir) throws IOException {
        TreeSet<String> names = new TreeSet<>();
        if (!Files.isDirectory(dir)) {
            return names;
        }
        try (Stream<Path> s = Files.list(dir)) {
            s.map(p -> p.getFileName().toString()).filter(n -> CRASH_FILE.matcher(n).matches()).forEach(names::add);
        }
        return names;
    }

    /**
     * The crash logs that appeared in a folder since a listing.
     *
     * @param dir the folder
     * @param before its crash logs then
     * @return one entry per new file, with its summary
     * @throws IOException when the folder cannot be listed
     */
    static List<Failure.CrashFile> since(Path dir, TreeSet<String> before) throws IOException {
        List<Failure.CrashFile> out = new ArrayList<>();
        for (String n : list(dir)) {
            if (!before.contains(n)) {
                out.add(new Failure.CrashFile(n, n.startsWith("hs_err") ? summary(dir.resolve(n)) : List.of()));
            }
        }
        return out;
    }

    /**
     * The lines of an hs_err that say what happened: the signal and the problematic frame from the
     * header, the current thread, the top frames, siginfo (with SEGV_PKUERR named, which HotSpot calls
     * "unknown"), and the mapping that holds si_addr (from the log's copy of /proc/self/maps).
     *
     * @param hsErr the file
     * @return the lines; a line saying so when the file cannot be read
     */
    static List<String> summary(Path hsErr) {
        List<String> lines;
        try {
            // HotSpot writes the log from a signal handler; tolerate a torn tail.
            lines = List.of(new String(Files.readAllBytes(hsErr), StandardCharsets.ISO_8859_1).split("\n", -1));
        } catch (IOException e) {
            return List.of("(unreadable: " + e.getMessage() + ")");
        }
        return summary(lines);
    }

    static List<String> summary(List<String> lines) {
        List<String> out = new ArrayList<>();
        int i = 0;
        for (; i < lines.size() && lines.get(i).startsWith("#"); i++) {
            String l = lines.get(i);
            if (l.matches("#\\s+(SIG\\w+ \\(0x\\p{XDigit}+\\) at pc=.*|Internal Error.*|Error: .*|Out of Memory Error.*"
                    + "|There is insufficient memory.*)")) {
                out.add(l);
            } else if (l.startsWith("# Problematic frame:") && i + 1 < lines.size()) {
                out.add(l);
                out.add(lines.get(++i));
            }
        }
        Long siAddr = null;
        String siginfo = null;
        List<String> frames = new ArrayList<>();
        boolean inFrames = false;
        for (; i < lines.size(); i++) {
            String l = lines.get(i);
            if (l.startsWith("Current thread (")) {
                out.add(l.replaceAll("\\s{2,}", " ").strip());
            } else if (l.startsWith("Native frames:")) {
                inFrames = true;
            } else if (inFrames) {
                if (l.isBlank() || l.startsWith("Java frames:") || frames.size() == FRAMES) {
                    inFrames = false;
                } else {
                    frames.add("  " + l.strip());
                }
            } else if (siginfo == null && l.startsWith("siginfo:")) {
                Matcher m = SIGINFO.matcher(l);
                siginfo = l.strip();
                if (m.find()) {
                    if ("11".equals(m.group(1)) && Integer.parseInt(m.group(2)) == SEGV_PKUERR) {
                        siginfo = siginfo.replace("si_code: 4 (" + m.group(3) + ")",
                                "si_code: 4 (" + m.group(3) + ": SEGV_PKUERR, a protection-key fault)");
                    }
                    if (m.group(4) != null) {
                        siAddr = Long.parseUnsignedLong(m.group(4), 16);
                    }
                }
            }
        }
        if (!frames.isEmpty()) {
            out.add("top frames:");
            out.addAll(frames);
        }
        if (siginfo != null) {
            out.add(siginfo);
        }
        if (siAddr != null) {
            long addr = siAddr;
            out.add(mapping(lines, addr).map(m -> "si_addr lies in " + m).orElse("si_addr lies in no mapping the log lists"));
        }
        return out;
    }

    /** The line of the log's "Dynamic libraries:" section (a copy of /proc/self/maps) that holds an address. */
    private static Optional<String> mapping(List<String> lines, long addr) {
        int at = lines.indexOf("Dynamic libraries:");
        if (at < 0) {
            return Optional.empty();
        }
        for (int i = at + 1; i < lines.size() && !lines.get(i).isBlank(); i++) {
            Matcher m = MAPPING.matcher(lines.get(i));
            if (m.matches()) {
                long start = Long.parseUnsignedLong(m.group(1), 16);
                long end = Long.parseUnsignedLong(m.group(2), 16);
                if (Long.compareUnsigned(addr, start) >= 0 && Long.compareUnsigned(addr, end) < 0) {
                    return Optional.of(lines.get(i).replaceAll("\\s{2,}", " ").strip());
                }
            }
        }
        return Optional.empty();
    }
}
