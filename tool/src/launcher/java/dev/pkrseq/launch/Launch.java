package dev.pkrseq.launch;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;

/**
 * The jar's entry point, compiled for Java 8 so that an old {@code java} can load it and say what is
 * wrong, instead of failing with UnsupportedClassVersionError on the real main class.
 */
public final class Launch {
    private static final int REQUIRED = 22;

    private Launch() {
    }

    /**
     * Checks the running Java version, then hands over to {@code dev.pkrseq.cli.Main}.
     *
     * @param args the command line
     * @throws Throwable whatever the real main throws
     */
    public static void main(String[] args) throws Throwable {
        String spec = System.getProperty("java.specification.version", "0");
        int major = spec.startsWith("1.") ? Integer.parseInt(spec.substring(2)) : Integer.parseInt(spec.replaceAll("\\..*", ""));
        if (major < REQUIRED) {
            System.err.println("pkrseq: needs Java " + REQUIRED + " or newer (the Foreign Function and Memory API), but this is Java "
                    + System.getProperty("java.version") + " from " + System.getProperty("java.home") + ".");
            System.err.println("pkrseq: run target/pkrseq, which the build points at the JDK it found, or use a JDK >= "
                    + REQUIRED + "'s java -jar.");
            System.exit(2);
        }
        Method main = Class.forName("dev.pkrseq.cli.Main").getMethod("main", String[].class);
        try {
            main.invoke(null, (Object) args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }
}
