package dev.pkrseq.cli;

import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.LockSupport;

import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** The {@code pkrseq} command line. */
@Command(name = "pkrseq",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Observe Linux protection keys and restartable sequences from a running JVM.",
        subcommands = {ProbeCommand.class, PkeysCommand.class, TlsCommand.class, RseqCommand.class, WatchCommand.class,
                PercpuCommand.class, ParamtestCommand.class, ShellCommand.class,
                CommandLine.HelpCommand.class, AutoComplete.GenerateCompletion.class})
public final class Main implements Runnable {
    /** Exit code for a usage error: unknown command or option, bad value. */
    public static final int EXIT_USAGE = 2;
    /** Exit code for a failure while running a command. */
    public static final int EXIT_FAILURE = 1;

    @Spec
    CommandSpec spec;

    /** Picocli creates the instance. */
    public Main() {
    }

    /**
     * Runs pkrseq and exits with its status.
     *
     * <p>SIGINT, SIGTERM and SIGHUP end it the JVM's way: the shutdown hooks run (the lab's ends the child
     * JVMs and removes their files; {@code watch}'s stops its workers and restores the terminal), and the
     * status is 128 + the signal's number: 130 for SIGINT, 143 for SIGTERM. A command that returns while
     * those hooks run leaves that status alone.
     *
     * @param args the command line
     */
    public static void main(String[] args) {
        if (JvmLogging.mayLogToStdout()) {
            JvmLogging.moveToStderr();
        }
        PrintWriter err = new PrintWriter(System.err, true);
        Progress.processStderr = err;
        int status = run(StandardOutput.open(), err, args);
        if (shuttingDown()) {
            // A signal is ending the JVM: System.exit now could replace its 130 or 143 once the hooks are
            // done. The thread that runs the hooks halts the JVM with that status; wait for it.
            while (true) {
                LockSupport.park();
            }
        }
        System.exit(status);
    }

    /** Whether the JVM has begun to run its shutdown hooks: it then refuses new ones. */
    static boolean shuttingDown() {
        Thread probe = new Thread(() -> { });
        try {
            Runtime.getRuntime().addShutdownHook(probe);
            Runtime.getRuntime().removeShutdownHook(probe);
            return false;
        } catch (IllegalStateException inProgress) {
            return true;
        }
    }


    /**
     * Runs pkrseq with the given streams, for tests and embedding.
     *
     * <p>Output that cannot be written (a closed pipe, as in {@code pkrseq probe | head -1}, a full disk,
     * a closed descriptor) is a failure: {@code pkrseq: <command>: cannot write the output: <why>} on
     * {@code err}, and {@link #EXIT_FAILURE} unless the command already failed. {@code watch} stops at the
     * first sample it cannot write.
     *
     * @param out standard output
     * @param err standard error
     * @param args the command line
     * @return the exit status: 0, {@link #EXIT_FAILURE} or {@link #EXIT_USAGE}
     */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cl = new CommandLine(new Main());
        // 80 columns off a terminal; a terminal's own width on one.
        cl.setUsageHelpWidth(80);
        cl.setUsageHelpAutoWidth(true);
        // picocli hides its completion command; pkrseq lists it, and every help ends with the exit codes.
        cl.getSubcommands().get("generate-completion").getCommandSpec().usageMessage().hidden(false);
        exitCodes(cl);
        cl.setOut(out);
        cl.setErr(err);
        // param_test's "-9 -1": a value that looks like another option is the value.
        cl.getSubcommands().get("paramtest").setAllowOptionsAsOptionParameters(true);
        cl.setParameterExceptionHandler((ex, a) -> {
            CommandLine c = ex.getCommandLine();
            c.getErr().println("pkrseq: " + message(ex) + suggestion(ex) + " (see '" + c.getCommandSpec().qualifiedName()
                    + " --help')");
            return EXIT_USAGE;
        });
        cl.setExecutionExceptionHandler((ex, c, parsed) -> {
            if (ex instanceof UsageException) {
                c.getErr().println("pkrseq: " + ex.getMessage() + " (see '" + c.getCommandSpec().qualifiedName() + " --help')");
                return EXIT_USAGE;
            }
            c.getErr().println("pkrseq: " + c.getCommandName() + ": " + describe(ex));
            if (System.getenv("PKRSEQ_DEBUG") != null) {
                ex.printStackTrace(c.getErr());
            }
            return EXIT_FAILURE;
        });
        int status = cl.execute(args);
        if (out.checkError()) {
            String why = out instanceof StandardOutput s ? s.failure() : null;
            CommandLine.ParseResult parsed = cl.getParseResult();
            String command = parsed != null && parsed.subcommand() != null
                    ? parsed.subcommand().commandSpec().name() + ": " : "";
            err.println("pkrseq: " + command + "cannot write the output: " + (why == null ? "the stream failed" : why));
            err.flush();
            return status == 0 ? EXIT_FAILURE : status;
        }
        return status;
    }

    /** Picocli's message, except that a word where a command belongs is called an unknown command. */
    private static String message(CommandLine.ParameterException ex) {
        if (ex instanceof CommandLine.UnmatchedArgumentException u && !u.isUnknownOption()
                && !ex.getCommandLine().getSubcommands().isEmpty() && u.getUnmatched().size() >= 1
                && ex.getCommandLine().getParseResult().originalArgs().indexOf(u.getUnmatched().get(0)) == 0) {
            return "unknown command '" + u.getUnmatched().get(0) + "'";
        }
        return ex.getMessage();
    }

    /**
     * "; did you mean probe?" for a mistyped command or option: picocli's suggestions that are a typo away
     * (an edit distance of at most a third of the word, and 2 at least); empty otherwise.
     */
    static String suggestion(CommandLine.ParameterException ex) {
        if (ex instanceof CommandLine.UnmatchedArgumentException u && !u.getUnmatched().isEmpty()) {
            String typed = u.getUnmatched().get(0).replaceFirst("=.*", "");
            List<String> near = u.getSuggestions().stream()
                    .filter(s -> editDistance(typed, s) <= Math.max(2, typed.length() / 3)).limit(2).toList();
            if (!near.isEmpty()) {
                return "; did you mean " + String.join(" or ", near) + "?";
            }
        }
        return "";
    }

    /** Levenshtein distance: insertions, deletions and substitutions of one character each. */
    static int editDistance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int substitute = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                cur[j] = Math.min(substitute, Math.min(prev[j], cur[j - 1]) + 1);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    /** The exit-code section at the end of every command's help. */
    private static void exitCodes(CommandLine cl) {
        Map<String, String> codes = new LinkedHashMap<>();
        codes.put("0", "Success.");
        codes.put(Integer.toString(EXIT_FAILURE), "The command failed (percpu: the sum was not exact; paramtest: a check did not hold).");
        codes.put(Integer.toString(EXIT_USAGE), "Usage error: unknown command or option, bad value.");
        codes.put("130", "Ended by SIGINT (Ctrl-C), after cleaning up.");
        codes.put("143", "Ended by SIGTERM, after cleaning up.");
        cl.getCommandSpec().usageMessage().exitCodeListHeading("%nExit codes:%n").exitCodeList(codes);
        cl.getSubcommands().values().forEach(Main::exitCodes);
    }

    private static String describe(Exception ex) {
        String m = ex.getMessage();
        return m == null ? ex.getClass().getSimpleName() : m;
    }

    @Override
    public void run() {
        throw new UsageException("missing command: choose one of " + String.join(", ", spec.subcommands().keySet()));
    }

    /** Reports the version from the jar manifest, or "development" when run from classes. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"pkrseq " + (v == null ? "development" : v) + " on JDK " + System.getProperty("java.version")};
        }
    }
}
