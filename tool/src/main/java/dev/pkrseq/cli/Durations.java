package dev.pkrseq.cli;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import picocli.CommandLine;

/** Command-line durations: {@code 500ms}, {@code 2s}, {@code 1.5s}, {@code 1m}, or a plain number of seconds. */
final class Durations implements CommandLine.ITypeConverter<Duration> {
    private static final Pattern FORM = Pattern.compile("(\\d+(?:\\.\\d+)?)(ms|s|m)?");

    @Override
    public Duration convert(String value) {
        Matcher m = FORM.matcher(value.trim().toLowerCase(Locale.ROOT));
        if (!m.matches()) {
            throw new CommandLine.TypeConversionException("'" + value
                    + "' is not a duration: use for example 500ms, 2s, 1.5s or 1m");
        }
        BigDecimal n = new BigDecimal(m.group(1));
        String unit = m.group(2) == null ? "s" : m.group(2);
        BigDecimal nanos = switch (unit) {
            case "ms" -> n.movePointRight(6);
            case "s" -> n.movePointRight(9);
            case "m" -> n.multiply(BigDecimal.valueOf(60)).movePointRight(9);
            default -> throw new AssertionError(unit);
        };
        try {
            return Duration.ofNanos(nanos.setScale(0, RoundingMode.DOWN).longValueExact());
        } catch (ArithmeticException e) {
            throw new CommandLine.TypeConversionException("'" + value + "' is too long a duration");
        }
    }

    /** Renders a duration the way the options accept it. */
    static String format(Duration d) {
        long ms = d.toMillis();
        if (ms % 60_000 == 0 && ms > 0) {
            return ms / 60_000 + "m";
        }
        if (ms % 1000 == 0 && ms > 0) {
            return ms / 1000 + "s";
        }
        return ms + "ms";
    }
}
