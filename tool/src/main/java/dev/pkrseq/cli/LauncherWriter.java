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
                # Found through a symbolic link on PATH (ln -s .../target/pkrseq ~/.local/bin/pkrseq), the jar is
                # still beside the link's target.
                self=$(readlink -f -- "$0" 2>/dev/null || printf '%%s' "$0")
                here=$(CDPATH= cd -- "$(dirname -- "$self")" && pwd)
                # Standard output is the report (pure JSON with --json): the JVM's own messages and logging go to
                # stderr, JFR's start-up lines, which it prints on stdout
                # wherever jfr+startup logs at info or warning, only their errors kept, and an -Xlog option in
                # PKRSEQ_JAVA_OPTS that names no output, or stdout, logs to stderr instead.
                set -f
                opts=
                for o in $PKRSEQ_JAVA_OPTS; do
                    case $o in
                        -Xlog) o=-Xlog:all=info:stderr ;;
                        -Xlog:disable|-Xlog:help|-Xlog:async*) ;;
                        -Xlog:*:stdout|-Xlog:*:stdout:*) o=$(printf '%%s' "$o" | sed 's/:stdout/:stderr/') ;;
                        -Xlog:*::*) o=$(printf '%%s' "$o" | sed 's/::/:stderr:/') ;;
                        -Xlog:*:*) ;;
                        -Xlog:*) o=$o:stderr ;;
                        -verbose:gc) o=-Xlog:gc:stderr ;;
                        -verbose|-verbose:class) o=-Xlog:class+load=info,class+unload=info:stderr ;;
                        -verbose:jni) o=-Xlog:jni+resolve=debug:stderr ;;
                    esac
                    opts="$opts $o"
                done
                exec "${PKRSEQ_JAVA:-%s}" -XX:+DisplayVMOutputToStderr -Xlog:disable \\
                    -Xlog:all=warning,jfr+startup=error:stderr $opts -Xlog:jfr+startup=error:stderr -jar "$here/%s" "$@"
                """.formatted(java, jar);
        Files.writeString(launcher, script);
        Files.setPosixFilePermissions(launcher, PosixFilePermissions.fromString("rwxr-xr-x"));
    }
}
