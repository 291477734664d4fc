package dev.pkrseq.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;

/**
 * What a long command is doing now, on stderr, so that the terminal is never blank for seconds: "pkrseq
 * probe: 3 of 25: pkey.alloc-exhaust". On a terminal each step replaces the last on one line, which is
 * erased before the report; elsewhere (a pipe, a file, a test) each step is a plain line, with no escape
 * codes. Nothing at all with {@code --quiet}. Standard output never sees a progress line.
 */
final class Progress implements AutoCloseable {
    private static final String ERASE_LINE = "\r\u001b[K";

    /** The {@code --quiet} option of every command. */
    static final class Options {
        @Option(names = {"-q", "--quiet"}, description = "Print no progress and no notes on stderr; errors still go there.")
        boolean quiet;
    }

    /** The process's own stderr, set by {@link Main#main}: only that one can be a terminal. */
    static volatile PrintWriter processStderr;

    private final PrintWriter err;
    private final String command;
    private final boolean quiet;
    private final boolean terminal;
    private boolean drawn;

    Progress(PrintWriter err, String command, boolean quiet, boolean terminal) {
        this.err = err;
        this.command = command;
        this.quiet = quiet;
        this.terminal = terminal;
    }

    /** The progress of the running command: to its stderr, in place where that is the process's terminal. */
    static Progress of(CommandSpec spec, Options options) {
        PrintWriter err = spec.commandLine().getErr();
        return new Progress(err, spec.qualifiedName(), options.quiet, err == processStderr && stderrIsTerminal());
    }

    /** Whether file descriptor 2 is a terminal: a tty or pseudo-terminal device, and TERM is not "dumb". */
    static boolean stderrIsTerminal() {
        try {
            String target = Files.readSymbolicLink(Path.of("/proc/self/fd/2")).toString();
            return (target.startsWith("/dev/pts/") || target.startsWith("/dev/tty")) && !"dumb".equals(System.getenv("TERM"));
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }

    /**
     * Step {@code k} of {@code n} begins.
     *
     * @param k from 1
     * @param n the number of steps
     * @param what what it does, for example an experiment's id
     */
    void step(int k, int n, String what) {
        show(k + " of " + n + ": " + what);
    }

    /** A line of what happens now, without a count. */
    void show(String what) {
        if (quiet) {
            return;
        }
        String line = command + ": " + what;
        if (terminal) {
            err.print(ERASE_LINE + line);
            drawn = true;
        } else {
            err.println(line);
        }
        err.flush();
    }

    /** A note that stays: on its own line, erasing a step shown in place first. Nothing with --quiet. */
    void note(String text) {
        if (quiet) {
            return;
        }
        erase();
        err.println("pkrseq: " + command.replaceFirst("^pkrseq ", "") + ": " + text);
        err.flush();
    }

    private void erase() {
        if (drawn) {
            err.print(ERASE_LINE);
            err.flush();
            drawn = false;
        }
    }

    /** Erases the step shown in place, so that the report starts on a clean line. */
    @Override
    public void close() {
        erase();
    }
}
