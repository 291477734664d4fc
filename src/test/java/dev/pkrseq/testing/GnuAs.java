package dev.pkrseq.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** GNU binutils as a check of generated machine code: the source assembled, at address 0, to raw bytes. */
public final class GnuAs {
    private GnuAs() {
    }

    /**
     * Assembles x86_64 source with {@code as}, links it at address 0 with {@code ld} and extracts the bytes
     * with {@code objcopy}; skips the test where binutils are not installed.
     *
     * @param source GNU assembler source
     * @return the bytes
     * @throws Exception when a tool fails
     */
    public static byte[] assemble(String source) throws Exception {
        assumeTrue(onPath("as") && onPath("ld") && onPath("objcopy"), "GNU binutils (as, ld, objcopy) not installed");
        Path dir = Files.createTempDirectory("pkrseq-as-");
        try {
            Files.writeString(dir.resolve("code.s"), source, StandardCharsets.UTF_8);
            run(dir, "as", "--64", "-o", "code.o", "code.s");
            run(dir, "ld", "-Ttext=0", "-e", "0", "-o", "code.elf", "code.o");
            run(dir, "objcopy", "-O", "binary", "code.elf", "code.bin");
            return Files.readAllBytes(dir.resolve("code.bin"));
        } finally {
            try (var files = Files.list(dir)) {
                for (Path p : files.toList()) {
                    Files.delete(p);
                }
            }
            Files.delete(dir);
        }
    }

    private static void run(Path dir, String... command) throws Exception {
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), String.join(" ", command) + " hung");
        assertEquals(0, p.exitValue(), String.join(" ", command) + ": " + out);
    }

    private static boolean onPath(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return false;
    }
}
