package dev.pkrseq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

/**
 * The PKU guest runs the test classes tagged {@code pku} ({@code -Dgroups=pku}, see README.md, Tests),
 * so a protection-key test class without the tag would skip on every machine without PKU and never run
 * anywhere. Every test class whose outcome depends on protection keys working must carry the tag.
 */
class PkuTagTest {
    // What a test class calls when its outcome depends on protection keys.
    private static final Pattern DEPENDS_ON_PKEYS = Pattern.compile(
            "Features\\.assumePkeys\\(|Features\\.pkeysWork\\(|Pkeys\\.supported\\(");
    private static final Pattern TAGGED = Pattern.compile("(?m)^@Tag\\(\"pku\"\\)$");

    static boolean needsTag(String source) {
        return DEPENDS_ON_PKEYS.matcher(source).find();
    }

    static boolean tagged(String source) {
        return TAGGED.matcher(source).find();
    }

    @Test
    void everyTestClassThatDependsOnProtectionKeysIsTaggedPku() throws IOException {
        Path root = Path.of("src/test/java");
        assertTrue(Files.isDirectory(root), "run from the project directory: no " + root.toAbsolutePath());
        List<String> untagged;
        long tagged;
        try (Stream<Path> files = Files.walk(root)) {
            // This class names the calls in its own examples; it is not a protection-key test.
            List<Path> tests = files.filter(p -> p.getFileName().toString().endsWith("Test.java"))
                    .filter(p -> !p.getFileName().toString().equals(PkuTagTest.class.getSimpleName() + ".java")).toList();
            untagged = tests.stream().filter(p -> {
                String s = read(p);
                return needsTag(s) && !tagged(s);
            }).map(p -> root.relativize(p).toString()).sorted().toList();
            tagged = tests.stream().filter(p -> tagged(read(p))).count();
        }
        assertEquals(List.of(), untagged, "these test classes depend on protection keys but lack @Tag(\"pku\")"
                + " on the class, so the PKU guest would not run them");
        assertTrue(tagged >= 10, "only " + tagged + " test classes carry @Tag(\"pku\")");
    }

    @Test
    void theCheckTellsATaggedClassFromAnUntaggedOne() {
        String untagged = "class A {\n    @Test\n    void t() {\n        Features.assumePkeys();\n    }\n}\n";
        String tagged = "@Tag(\"pku\")\n" + untagged;
        String methodTag = untagged.replace("    @Test\n", "    @Tag(\"pku\")\n    @Test\n");
        assertTrue(needsTag(untagged) && !tagged(untagged));
        assertTrue(tagged(tagged));
        assertTrue(!tagged(methodTag), "a method's tag does not select the whole class");
        assertTrue(needsTag("if (Features.pkeysWork()) {") && needsTag("if (Pkeys.supported()) {"));
        assertTrue(!needsTag("Features.assumeRseq();"));
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
