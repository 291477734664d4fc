package dev.pkrseq.bench;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * A saved benchmark run: JMH's JSON (an array of results), where bench/run has added a
 * {@code "machine"} object to every result so that the file alone tells where it ran.
 *
 * @param results the results, in file order
 * @param machine the machine, from the first result that carries one; null when none does
 * @param jdk the JDK as JMH recorded it
 * @param settings forks, warm-up and measurement as JMH recorded them for the first result
 */
public record Run(List<Result> results, Machine machine, String jdk, String settings) {
    static final ObjectMapper MAPPER = new ObjectMapper();

    /**
     * Reads a JMH JSON file.
     *
     * @param file the file
     * @return the run
     * @throws IOException when the file cannot be read or is not JMH JSON
     */
    public static Run read(Path file) throws IOException {
        JsonNode root = MAPPER.readTree(file.toFile());
        if (root == null || !root.isArray()) {
            throw new IOException(file + " is not JMH JSON: expected an array of results");
        }
        List<Result> results = new ArrayList<>();
        Machine machine = null;
        String jdk = null;
        String settings = null;
        for (JsonNode r : root) {
            String benchmark = r.path("benchmark").asText();
            int dot = benchmark.lastIndexOf('.');
            String cls = benchmark.substring(0, dot);
            String group = cls.substring(cls.lastIndexOf('.') + 1);
            Map<String, String> params = new LinkedHashMap<>();
            r.path("params").properties().forEach(e -> params.put(e.getKey(), e.getValue().asText()));
            JsonNode pm = r.path("primaryMetric");
            double error = pm.path("scoreError").isNumber() ? pm.path("scoreError").asDouble() : Double.NaN;
            results.add(new Result(benchmark, group, benchmark.substring(dot + 1), params, r.path("threads").asInt(1),
                    r.path("forks").asInt(), pm.path("score").asDouble(), error, pm.path("scoreUnit").asText()));
            if (machine == null && r.has("machine")) {
                machine = MAPPER.treeToValue(r.get("machine"), Machine.class);
            }
            if (jdk == null) {
                jdk = r.path("jdkVersion").asText() + " (" + r.path("vmName").asText() + " " + r.path("vmVersion").asText() + ")";
                settings = r.path("forks").asInt() + " fork(s), warm-up " + r.path("warmupIterations").asInt() + " x "
                        + r.path("warmupTime").asText() + ", measurement " + r.path("measurementIterations").asInt()
                        + " x " + r.path("measurementTime").asText();
            }
        }
        return new Run(results, machine, jdk, settings);
    }

    /**
     * Merges JMH JSON files into one array and adds the machine to every result.
     *
     * @param parts the files JMH wrote, in order
     * @param machine this machine
     * @param out the merged file
     * @throws IOException when a file cannot be read or written
     */
    public static void assemble(List<Path> parts, Machine machine, Path out) throws IOException {
        ArrayNode all = MAPPER.createArrayNode();
        JsonNode m = MAPPER.valueToTree(machine);
        for (Path p : parts) {
            JsonNode root = MAPPER.readTree(p.toFile());
            if (root == null || !root.isArray()) {
                throw new IOException(p + " is not JMH JSON");
            }
            for (JsonNode r : root) {
                ((ObjectNode) r).set("machine", m);
                all.add(r);
            }
        }
        MAPPER.writerWithDefaultPrettyPrinter().writeValue(out.toFile(), all);
    }
}
