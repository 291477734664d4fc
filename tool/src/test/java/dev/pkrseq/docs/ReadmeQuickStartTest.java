package dev.pkrseq.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.StringWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.ToolProvider;

import dev.pkrseq.testing.Checkout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's library quick start compiles against the library as it is: a renamed method or a wrong
 * import in the README fails the build instead of the reader.
 */
class ReadmeQuickStartTest {
    @Test
    void quickStartCompiles(@TempDir Path out) throws IOException {
        String readme = Files.readString(Checkout.root().resolve("README.md"));
        int section = readme.indexOf("\n## Library quick start");
        assertTrue(section >= 0, "README.md has no 'Library quick start' section");
        int start = readme.indexOf("```java\n", section);
        int end = readme.indexOf("\n```", start + 8);
        List<String> lines = readme.substring(start + 8, end).lines().toList();

        List<String> imports = new ArrayList<>();
        List<String> body = new ArrayList<>();
        for (String l : lines) {
            (l.startsWith("import ") ? imports : body).add(l);
        }
        String source = String.join("\n", imports) + "\n\nclass QuickStart {\n    static void run() throws Exception {\n"
                + body.stream().map(l -> "        " + l).collect(Collectors.joining("\n")) + "\n    }\n}\n";

        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        JavaFileObject file = new SimpleJavaFileObject(URI.create("string:///QuickStart.java"),
                JavaFileObject.Kind.SOURCE) {
            @Override
            public CharSequence getCharContent(boolean ignoreEncodingErrors) {
                return source;
            }
        };
        StringWriter diagnostics = new StringWriter();
        boolean ok = javac.getTask(diagnostics, null, null,
                List.of("--release", "22", "-Xlint:all", "-Werror", "-d", out.toString(),
                        "-cp", System.getProperty("java.class.path")),
                null, List.of(file)).call();
        assertTrue(ok, "the README's quick start does not compile:\n" + diagnostics + "\n" + source);
        assertEquals("", diagnostics.toString().strip(), "javac had something to say");
    }
}
