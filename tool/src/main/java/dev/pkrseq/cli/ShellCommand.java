package dev.pkrseq.cli;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.concurrent.Callable;

import jdk.jshell.tool.JavaShellToolBuilder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code pkrseq shell}: the JDK's jshell with pkrseq loaded, to try one call at a time from a running JVM.
 * The snippets run in jshell's execution JVM, which gets this class path and native access; the imports
 * and a few helpers come from a start-up script.
 */
@Command(name = "shell", mixinStandardHelpOptions = true,
        description = {"Explore the library in jshell, with pkrseq loaded.",
                "",
                "Starts the JDK's jshell. Its execution JVM has pkrseq on its class path and native access "
                        + "enabled. The snippets see java.lang.foreign and the exported packages of dev.pkrseq "
                        + "(dev.pkrseq, pkey, rseq, tls, lab), and the helpers keys, pkru, rseq, tls and probe, which print what the "
                        + "commands of the same names print. With SCRIPT, runs that jshell script and exits. Every "
                        + "snippet runs on the same platform thread of the execution JVM, so rights set in one hold "
                        + "in the next. With --quiet, no banner."})
final class ShellCommand implements Callable<Integer> {
    /** The imports and helpers every session starts with. */
    static final String STARTUP = """
            import java.lang.foreign.*;
            import dev.pkrseq.pkey.*;
            import dev.pkrseq.rseq.*;
            import dev.pkrseq.tls.*;
            import dev.pkrseq.*;
            import dev.pkrseq.lab.*;
            void pkrseq(String... args) { dev.pkrseq.cli.Main.run(new java.io.PrintWriter(System.out, true), new java.io.PrintWriter(System.err, true), args); }
            void keys() { pkrseq("pkeys"); }
            void pkru() { System.out.println(Pkeys.supported() ? Pkru.current() : "PKRU unreadable: " + Pkeys.unavailableReason().orElse("protection keys are unavailable")); }
            void rseq() { pkrseq("rseq"); }
            void tls() { pkrseq("tls"); }
            void probe(String... prefixes) { pkrseq(prefixes.length == 0 ? new String[] {"probe", "-q"} : new String[] {"probe", "-q", "--only", String.join(",", prefixes)}); }
            """;
    /** The one line an interactive session starts with. */
    static final String BANNER = "pkrseq shell: jshell with pkrseq on the class path and native access on; imported "
            + "dev.pkrseq.*, dev.pkrseq.{pkey,rseq,tls,lab}.* and java.lang.foreign.*; helpers keys() pkru() rseq() tls() "
            + "probe(prefix...) pkrseq(args...); /exit ends";

    /** How long the execution JVM may take to start and connect. */
    static final int CONNECT_TIMEOUT_MILLIS = 120_000;

    @Spec
    CommandSpec spec;

    @Mixin
    Progress.Options progress;

    @Parameters(index = "0", arity = "0..1", paramLabel = "SCRIPT", description = "A jshell script to run instead of a session.")
    Path script;

    @Override
    public Integer call() throws Exception {
        if (script != null && !Files.isReadable(script)) {
            throw new UsageException("cannot read the script " + script);
        }
        Path startup = Files.createTempFile("pkrseq-shell", ".jsh");
        Path exit = Files.createTempFile("pkrseq-shell-exit", ".jsh");
        try {
            Files.writeString(startup, STARTUP);
            Files.writeString(exit, "/exit\n");
            List<String> args = new ArrayList<>(List.of("--class-path", System.getProperty("java.class.path"),
                    "-R--enable-native-access=ALL-UNNAMED", "--startup", "DEFAULT", "--startup", startup.toString(),
                    // jshell gives its execution JVM 5 s to connect by default; an emulated machine needs longer.
                    "--execution", "jdi:launch(true),timeout(" + CONNECT_TIMEOUT_MILLIS + ")"));
            if (script != null) {
                args.addAll(List.of("--feedback", "silent"));
                // The script, then /exit: jshell ends without a prompt.
                args.add(script.toString());
                args.add(exit.toString());
                return run(args, new ByteArrayInputStream(new byte[0]));
            }
            if (!progress.quiet) {
                args.add("-q");
                spec.commandLine().getErr().println(BANNER);
                spec.commandLine().getErr().flush();
            }
            // A session: jshell's own console, with line editing and completion, on the real terminal.
            int status = JavaShellToolBuilder.builder().persistence(new HashMap<>()).start(args.toArray(String[]::new));
            return status;
        } finally {
            Files.deleteIfExists(startup);
            Files.deleteIfExists(exit);
        }
    }

    private int run(List<String> args, InputStream commands) throws Exception {
        PrintStream out = printStream(spec.commandLine().getOut());
        PrintStream err = printStream(spec.commandLine().getErr());
        // Settings kept in memory: jshell's own store (java.util.prefs) would log on first use and outlive us.
        JavaShellToolBuilder shell = JavaShellToolBuilder.builder().in(commands, null).out(out).err(err)
                .persistence(new HashMap<>());
        int status = shell.start(args.toArray(String[]::new));
        out.flush();
        err.flush();
        return status;
    }

    /** The command's writer as the stream jshell wants. */
    private static PrintStream printStream(java.io.PrintWriter w) {
        return new PrintStream(new java.io.OutputStream() {
            @Override
            public void write(int b) {
                w.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) {
                w.write(new String(b, off, len, StandardCharsets.UTF_8));
            }

            @Override
            public void flush() {
                w.flush();
            }
        }, true, StandardCharsets.UTF_8);
    }
}
