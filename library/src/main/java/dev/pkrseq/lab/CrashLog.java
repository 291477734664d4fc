package dev.pkrseq.lab;

import dev.pkrseq.lab.internal.Cleanup;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * How a child JVM died: its exit status and, when HotSpot got as far as writing one, the siginfo line of
 * its crash log ({@code -XX:ErrorFile} in a directory of the child's own).
 *
 * @param exitCode the child's exit status (128 + n when signal n ended it)
 * @param exitSignal the signal that ended the child, for example "SIGABRT" (HotSpot aborts after its crash
 *     log) or "SIGSEGV" (the kernel killed it without HotSpot's help), or null when it exited normally
 * @param signal the fault signal from the crash log's siginfo line; null without a crash log
 * @param siCode si_code from the crash log; null without a crash log
 * @param siCodeName si_code by name: the kernel's for a SIGSEGV code it defines on x86 ({@code SEGV_PKUERR}
 *     for 4, where HotSpot prints "unknown"; see {@link #codeName(String, int, String)}), HotSpot's
 *     otherwise; null without a crash log
 * @param siAddr si_addr from the crash log; null without a crash log or address
 * @param line the crash log's siginfo line as HotSpot wrote it; null without a crash log
 */
public record CrashLog(int exitCode, String exitSignal, String signal, Integer siCode, String siCodeName, Long siAddr,
        String line) {
    private static final Pattern SIGINFO = Pattern.compile(
            "siginfo: si_signo: (\\d+) \\((\\w+)\\), si_code: (-?\\d+) \\(([^)]*)\\)(?:.*?si_addr: (0x[0-9a-fA-F]+))?");
    private static final String[] SIGNALS = {"", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT",
        "SIGBUS", "SIGFPE", "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM"};
    // SIGSEGV's si_code values 1 to 4 (include/uapi/asm-generic/siginfo.h). HotSpot (25) names the first
    // two and prints "unknown" for SEGV_PKUERR, the one a protection-key fault carries.
    private static final String[] SEGV_CODES = {null, "SEGV_MAPERR", "SEGV_ACCERR", "SEGV_BNDERR", "SEGV_PKUERR"};

    /**
     * JVM options that send the crash log into {@code dir} and keep the child from dumping core.
     *
     * @param dir the child's own directory, from {@link #directory(String)}
     * @return {@code -XX:ErrorFile=<dir>/hs_err_pid%p.log} and {@code -XX:-CreateCoredumpOnCrash}
     */
    public static String[] jvmArgs(Path dir) {
        return new String[] {"-XX:ErrorFile=" + dir.resolve("hs_err_pid%p.log"), "-XX:-CreateCoredumpOnCrash"};
    }

    /**
     * Reads how a child ended from its exit status and the crash log it left in {@code dir}, if any.
     *
     * @param exitCode the child's exit status
     * @param dir the child's own directory, from {@link #directory(String)}
     * @return what the status and the crash log say
     */
    public static CrashLog of(int exitCode, Path dir) {
        String exitSignal = signalName(exitCode);
        Optional<String> line = find(dir).flatMap(CrashLog::siginfoLine);
        if (line.isEmpty()) {
            return new CrashLog(exitCode, exitSignal, null, null, null, null, null);
        }
        Matcher m = SIGINFO.matcher(line.get());
        if (!m.find()) {
            throw new IllegalStateException("unreadable siginfo line in the child's crash log: " + line.get());
        }
        int code = Integer.parseInt(m.group(3));
        return new CrashLog(exitCode, exitSignal, m.group(2), code, codeName(m.group(2), code, m.group(4)),
                m.group(5) == null ? null : Long.parseUnsignedLong(m.group(5).substring(2), 16), line.get().strip());
    }

    /**
     * The name of a fault's si_code.
     *
     * @param signal the signal, for example "SIGSEGV"
     * @param code its si_code
     * @param hotspotName the name HotSpot printed in its crash log
     * @return SEGV_MAPERR (1), SEGV_ACCERR (2), SEGV_BNDERR (3) or SEGV_PKUERR (4) for SIGSEGV, otherwise
     *     {@code hotspotName} (for example SI_KERNEL or SI_USER)
     */
    static String codeName(String signal, int code, String hotspotName) {
        if ("SIGSEGV".equals(signal) && code >= 1 && code < SEGV_CODES.length) {
            return SEGV_CODES[code];
        }
        return hotspotName;
    }

    /**
     * The name of the signal an exit status says ended the process.
     *
     * @param exitCode a process's exit status, 128 + the signal's number for a death by signal
     * @return the signal's name, or null for a normal exit
     */
    public static String signalName(int exitCode) {
        int n = exitCode - 128;
        if (exitCode <= 128 || n >= 65) {
            return null;
        }
        return n < SIGNALS.length ? SIGNALS[n] : "signal " + n;
    }

    /**
     * Whether HotSpot wrote a crash log.
     *
     * @return true when the child left an hs_err file
     */
    public boolean logged() {
        return line != null;
    }

    /**
     * The exit in words.
     *
     * @return for example {@code exit 139 (killed by SIGSEGV)}, {@code exit 0}
     */
    public String exit() {
        return "exit " + exitCode + (exitSignal == null ? "" : " (killed by " + exitSignal + ")");
    }

    /**
     * The crash log HotSpot wrote into a child's directory.
     *
     * @param dir the child's directory, given to {@link #jvmArgs(Path)}
     * @return the first {@code hs_err*} file in {@code dir}, or empty when the child left none
     * @throws UncheckedIOException when {@code dir} cannot be listed
     */
    public static Optional<Path> find(Path dir) {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(f -> f.getFileName().toString().startsWith("hs_err")).findFirst();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Optional<String> siginfoLine(Path log) {
        try (Stream<String> lines = Files.lines(log, StandardCharsets.ISO_8859_1)) {
            return lines.filter(l -> l.startsWith("siginfo:")).findFirst();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A fresh directory for one child's files. It is registered with the lab's shutdown hook, which
     * removes it should SIGINT, SIGTERM, SIGHUP or {@code System.exit} end this JVM before
     * {@link #deleteTree(Path)} does.
     *
     * @param prefix the start of the directory's name, for example {@code "pkrseq-fault-"}
     * @return a new, empty temporary directory; remove it with {@link #deleteTree(Path)}
     * @throws UncheckedIOException when it cannot be created
     * @throws IllegalStateException when this JVM has begun to shut down: nothing new is created then
     */
    public static Path directory(String prefix) {
        try {
            return Cleanup.tempDirectory(prefix);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a directory for the child's crash log", e);
        }
    }

    /**
     * Removes a child's directory and everything in it. A directory already gone (removed by the
     * shutdown hook, say) is fine.
     *
     * @param dir the directory from {@link #directory(String)}
     * @throws UncheckedIOException when something in it cannot be removed
     */
    public static void deleteTree(Path dir) {
        Cleanup.delete(dir);
    }
}
