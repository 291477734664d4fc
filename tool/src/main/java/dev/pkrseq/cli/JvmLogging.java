package dev.pkrseq.cli;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.management.JMException;
import javax.management.ObjectName;

/**
 * Keeps the JVM's own logging off standard output, which belongs to the report (pure JSON with
 * {@code --json}).
 *
 * <p>The launcher starts the JVM with its unified logging on stderr. Options the user adds afterwards
 * ({@code PKRSEQ_JAVA_OPTS=-Xlog:gc}, {@code java -Xlog:gc -jar}) may still name stdout, the default output;
 * for those, {@link #moveToStderr()} moves the stdout configuration to stderr through the VM.log diagnostic
 * command (what {@code jcmd PID VM.log} runs), before the command prints anything. It costs about half a
 * second of JMX start-up, so it runs only where the JVM's arguments mention logging.
 */
final class JvmLogging {
    /** An output line of {@code VM.log list}: {@code " #0: stdout all=warning,gc=info uptime,level,tags ..."}. */
    private static final Pattern STDOUT = Pattern.compile("\\s*#0: stdout (\\S+) (\\S+).*");

    private JvmLogging() {
    }

    /**
     * Whether JVM options may have sent logging to stdout: an {@code -Xlog} option on the command line or in
     * the environment's option variables that names no output or stdout, or a {@code -verbose} option.
     */
    static boolean mayLogToStdout() {
        List<String> options = new ArrayList<>(ProcessHandle.current().info().arguments().map(List::of).orElse(List.of()));
        for (String variable : List.of("JDK_JAVA_OPTIONS", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS")) {
            String v = System.getenv(variable);
            if (v != null) {
                options.addAll(List.of(v.trim().split("\\s+")));
            }
        }
        return options.stream().anyMatch(JvmLogging::logsToStdout);
    }

    /** Whether one JVM option logs to stdout: the same rule the launcher applies to PKRSEQ_JAVA_OPTS. */
    static boolean logsToStdout(String option) {
        if (option.startsWith("-verbose")) {
            return true;
        }
        if (!option.startsWith("-Xlog")) {
            return false;
        }
        if (option.equals("-Xlog")) {
            return true;
        }
        if (!option.startsWith("-Xlog:") || option.equals("-Xlog:disable") || option.equals("-Xlog:help")
                || option.startsWith("-Xlog:async")) {
            return false;
        }
        String[] parts = option.substring("-Xlog:".length()).split(":", -1);
        return parts.length == 1 || parts[1].isEmpty() || parts[1].equals("stdout");
    }

    /**
     * Moves whatever the JVM logs to stdout over to stderr, with the same selections and decorations.
     *
     * @return what moved, for example "all=warning,gc=info", or null when stdout carried nothing
     */
    static String moveToStderr() {
        try {
            ObjectName dcmd = new ObjectName("com.sun.management:type=DiagnosticCommand");
            String list = vmLog(dcmd, "list");
            for (String line : list.lines().toList()) {
                Matcher m = STDOUT.matcher(line);
                if (m.matches() && !m.group(1).equals("all=off")) {
                    vmLog(dcmd, "output=stdout", "what=all=off");
                    vmLog(dcmd, "output=stderr", "what=" + m.group(1), "decorators=" + m.group(2));
                    return m.group(1);
                }
            }
            return null;
        } catch (JMException | RuntimeException e) {
            // Without the diagnostic command (a JVM without it, a security policy) logging stays where the user put it.
            return null;
        }
    }

    private static String vmLog(ObjectName dcmd, String... args) throws JMException {
        return (String) ManagementFactory.getPlatformMBeanServer().invoke(dcmd, "vmLog", new Object[] {args},
                new String[] {String[].class.getName()});
    }
}
