package dev.pkrseq.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Leaves {@code bench/target/java}, a symbolic link to the java binary of the JDK the build selected,
 * so that {@code bench/run} runs the benchmarks on it without JAVA_HOME.
 */
public final class LinkJava {
    private LinkJava() {
    }

    /**
     * Writes the link.
     *
     * @param args the link's path
     * @throws IOException when the link cannot be written
     */
    public static void main(String[] args) throws IOException {
        Path link = Path.of(args[0]);
        Files.deleteIfExists(link);
        Files.createSymbolicLink(link, Path.of(System.getProperty("java.home"), "bin", "java"));
    }
}
