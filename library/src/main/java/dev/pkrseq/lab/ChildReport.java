package dev.pkrseq.lab;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The one protocol between a parent and the child JVMs of the lab: the child reports named values on its
 * standard output, one {@code key=value} line each, through {@link #put}; the parent reads them back from
 * the child's {@link ChildJvm.Result} with typed getters. Keys are dotted names ({@code page},
 * {@code own-registration.outcome}); values may hold any text: a backslash, a newline and a carriage
 * return are escaped on the way out and restored on the way in, so one value is always one line. Other
 * output of the child (a JVM warning, a stack trace) is not part of the report.
 *
 * @param entries the reported values, in the order the child reported them
 */
public record ChildReport(List<Map.Entry<String, String>> entries) {
    private static final Pattern KEY = Pattern.compile("[A-Za-z0-9_.\\-]+");

    /**
     * The report, copied.
     *
     * @param entries the reported values, in order
     */
    public ChildReport {
        entries = List.copyOf(entries);
    }

    // ---- The child's side ----------------------------------------------------------------------

    /**
     * Reports one value to the parent, on standard output, at once.
     *
     * @param key a dotted name: letters, digits, {@code _}, {@code .} and {@code -}
     * @param value any value; its {@code String.valueOf} is reported
     * @throws IllegalArgumentException for a key with other characters
     */
    public static void put(String key, Object value) {
        if (!KEY.matcher(key).matches()) {
            throw new IllegalArgumentException("a child report key is a dotted name, not '" + key + "'");
        }
        System.out.println(key + "=" + escape(String.valueOf(value)));
        System.out.flush();
    }

    static String escape(String value) {
        StringBuilder b = new StringBuilder(value.length());
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            switch (c) {
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                default -> b.append(c);
            }
        }
        return b.toString();
    }

    static String unescape(String value) {
        if (value.indexOf('\\') < 0) {
            return value;
        }
        StringBuilder b = new StringBuilder(value.length());
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c == '\\' && i + 1 < value.length()) {
                char n = value.charAt(++i);
                b.append(n == 'n' ? '\n' : n == 'r' ? '\r' : n);
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    // ---- The parent's side ---------------------------------------------------------------------

    /**
     * Reads the report out of a child's standard output.
     *
     * @param stdout everything the child wrote on standard output
     * @return the report: every line of the form {@code key=value}, in order
     */
    public static ChildReport parse(String stdout) {
        List<Map.Entry<String, String>> entries = new ArrayList<>();
        for (String line : stdout.lines().toList()) {
            int eq = line.indexOf('=');
            if (eq > 0 && KEY.matcher(line.substring(0, eq)).matches()) {
                entries.add(Map.entry(line.substring(0, eq), unescape(line.substring(eq + 1))));
            }
        }
        return new ChildReport(entries);
    }

    /**
     * Every value reported under a key.
     *
     * @param key the key
     * @return the values, in order; empty when the child did not report it
     */
    public List<String> all(String key) {
        return entries.stream().filter(e -> e.getKey().equals(key)).map(Map.Entry::getValue).toList();
    }

    /**
     * The first value reported under a key.
     *
     * @param key the key
     * @return the value, or empty when the child did not report it
     */
    public Optional<String> first(String key) {
        return entries.stream().filter(e -> e.getKey().equals(key)).map(Map.Entry::getValue).findFirst();
    }

    /**
     * The first value reported under a key, which the child must have reported.
     *
     * @param key the key
     * @return the value
     * @throws ChildJvm.ChildJvmException when the child did not report it
     */
    public String get(String key) {
        return first(key).orElseThrow(() -> new ChildJvm.ChildJvmException("the child JVM did not report '" + key
                + "'; it reported " + keys()));
    }

    /**
     * A reported value as a number.
     *
     * @param key the key
     * @return the first value, parsed
     * @throws ChildJvm.ChildJvmException when the child did not report it
     * @throws NumberFormatException when it is not a decimal number
     */
    public long getLong(String key) {
        return Long.parseLong(get(key));
    }

    /**
     * A reported value as a number.
     *
     * @param key the key
     * @return the first value, parsed
     * @throws ChildJvm.ChildJvmException when the child did not report it
     * @throws NumberFormatException when it is not a decimal int
     */
    public int getInt(String key) {
        return Integer.parseInt(get(key));
    }

    /**
     * A reported value as a truth value.
     *
     * @param key the key
     * @return true when the first value is {@code true}
     * @throws ChildJvm.ChildJvmException when the child did not report it
     */
    public boolean getBoolean(String key) {
        return Boolean.parseBoolean(get(key));
    }

    /**
     * The values reported under keys that start with a prefix, the prefix cut off; the first value of
     * each key.
     *
     * @param prefix for example {@code own-registration.}
     * @return the rest of each key to its value, in the order reported
     */
    public Map<String, String> under(String prefix) {
        Map<String, String> m = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : entries) {
            if (e.getKey().startsWith(prefix)) {
                m.putIfAbsent(e.getKey().substring(prefix.length()), e.getValue());
            }
        }
        return m;
    }

    private List<String> keys() {
        return entries.stream().map(Map.Entry::getKey).distinct().toList();
    }
}
