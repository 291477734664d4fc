package dev.pkrseq.testing;

import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The lines a JVM itself prints on standard error when its launcher picks up options from the
 * environment ({@code Picked up JAVA_TOOL_OPTIONS: ...}, also for {@code _JAVA_OPTIONS} and
 * {@code JDK_JAVA_OPTIONS}). Users and the PKU guest set these variables, so a test that expects a child
 * JVM to print nothing on standard error removes exactly these lines and nothing else.
 */
public final class JvmNotes {
    private static final Pattern NOTE = Pattern.compile("^(Picked up (JAVA_TOOL_OPTIONS|_JAVA_OPTIONS|JDK_JAVA_OPTIONS): .*"
            + "|NOTE: Picked up JDK_JAVA_OPTIONS: .*)$");

    private JvmNotes() {
    }

    /**
     * Standard error without the JVM's "Picked up ..." lines.
     *
     * @param stderr what a child JVM printed on standard error
     * @return the other lines, each ending with a newline; empty when there were none
     */
    public static String withoutJvmNotes(String stderr) {
        return stderr.lines().filter(l -> !NOTE.matcher(l).matches()).map(l -> l + "\n").collect(Collectors.joining());
    }
}
