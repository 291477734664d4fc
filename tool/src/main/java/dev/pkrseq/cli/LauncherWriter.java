package dev.pkrseq.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Writes {@code target/pkrseq}, a shell launcher that runs the jar on the JDK the build selected, so
 * that users never go through Maven or set JAVA_HOME to run the tool again. The build runs this class
 * on that JDK; {@code java.home} is therefore the JDK to remember.
 */
public final class LauncherWriter {
    private LauncherWriter() {
    }

    /**
     * Writes the launcher.
     *
     * @param args the launcher path, then the jar path
     * @throws IOException when the file cannot be written
     */
    public static void main(String[] args) throws IOException {
        Path launcher = Path.of(args[0]);
        String jar = Path.of(args[1]).getFileName().toString();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String script = """
                #!/bin/sh
                # Written by the pkrseq build: runs pkrseq on the JDK (>= 22) that the build found.
                # PKRSEQ_JAVA picks another java; PKRSEQ_JAVA_OPTS adds JVM options, for example
                #   PKRSEQ_JAVA_OPTS=-XX:StartFlightRecording=filename=pkrseq.jfr
                here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
                exec "${PKRSEQ_JAVA:-%s}" $PKRSEQ_JAVA_OPTS -jar "$here/%s" "$@"
                """.formatted(java, jar);
        Files.writeString(launcher, script);
        Files.setPosixFilePermissions(launcher, PosixFilePermissions.fromString("rwxr-xr-x"));
    }
}
