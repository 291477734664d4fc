package dev.pkrseq.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.JsonNode;
import dev.pkrseq.testing.Features;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Every member a command's --json prints is listed, with its path, in that command's docs page. */
class DocsJsonMembersTest {
    static Stream<Arguments> documents() {
        return Stream.of(
                Arguments.of("docs/cli.md", List.of("probe", "--json", "--only", "rseq.cpu", "-q")),
                Arguments.of("docs/pkeys.md", List.of("pkeys", "--json")),
                Arguments.of("docs/pkeys.md", List.of("pkeys", "--json", "--key", "0")),
                Arguments.of("docs/pkeys.md", List.of("pkeys", "--json", "--kernel-paths")),
                Arguments.of("docs/pkeys.md", List.of("pkeys", "--json", "--threads")),
                Arguments.of("docs/rseq.md", List.of("rseq", "--json")),
                Arguments.of("docs/rseq.md", List.of("watch", "--json", "--samples", "1", "--threads", "1",
                        "--interval", "10ms")),
                Arguments.of("docs/tls.md", List.of("tls", "--json")),
                Arguments.of("docs/tls.md", List.of("tls", "--json", "--threads", "-q")),
                Arguments.of("docs/percpu.md", List.of("percpu", "--json", "--adds", "1000", "-q")),
                Arguments.of("docs/percpu.md", List.of("percpu", "--json", "--code")),
                Arguments.of("docs/rseq-toolkit.md", List.of("paramtest", "-T", "i", "-t", "2", "-r", "1000", "--json")));
    }

    @ParameterizedTest(name = "{1} in {0}")
    @MethodSource("documents")
    void everyJsonMemberIsListedInTheCommandsPage(String page, List<String> args) throws IOException {
        Features.assumeRseq();
        ProbeCommandTest.Run r = Commands.ok(args.toArray(String[]::new));
        String doc = Files.readString(dev.pkrseq.testing.Checkout.root().resolve(page));
        String schema = null;
        Set<String> paths = new LinkedHashSet<>();
        for (String line : args.get(0).equals("watch") ? r.out.lines().toList() : List.of(r.out)) {
            JsonNode j = CliJsonTest.parse(line);
            schema = j.get("schema").asText();
            collect(j, "", paths);
        }
        assertTrue(doc.contains("#### `" + schema + "`"), page + " has no table for " + schema);
        List<String> missing = new ArrayList<>();
        for (String p : paths) {
            if (!doc.contains("| `" + p + "` |")) {
                missing.add(p);
            }
        }
        assertTrue(missing.isEmpty(), page + " does not list " + missing);
    }

    /** Member paths as the tables write them: {@code a.b}, {@code list[].c}; maps keyed by CPU number stop at the map. */
    private static void collect(JsonNode n, String path, Set<String> out) {
        if (n.isObject()) {
            n.properties().forEach(e -> {
                if (e.getKey().matches("\\d+")) {
                    return;
                }
                String p = path.isEmpty() ? e.getKey() : path + "." + e.getKey();
                // tls --threads: each map has the tls document's members, listed once under pkrseq.tls/1.
                if (p.startsWith("threads[].") || p.startsWith("initialThread.map.")) {
                    return;
                }
                out.add(p);
                collect(e.getValue(), p, out);
            });
        } else if (n.isArray()) {
            for (JsonNode e : n) {
                out.add(path + "[]");
                collect(e, path + "[]", out);
            }
        }
    }
}
