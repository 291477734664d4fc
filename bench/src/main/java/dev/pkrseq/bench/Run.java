package dev.pkrseq.bench;

import java.io.IOException;
import java.nio.file.Files;
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
 * @param failures the benchmarks and invocations that produced no result, from {@code X.failures.json}
 *     beside {@code X.json}; empty when that file is absent
 */
public record Run(List<Result> results, Machine machine, String jdk, String settings, List<Failure> failures) {
    static final ObjectMapper MAPPER = new ObjectMapper();
    /** What bench/run appends to the run's base name for its failures file. */
    static final String FAILURES_SUFFIX = ".failures.json";

    /**
     * Copies the lists.
     *
     * @param results the results
     * @param machine the machine or null
     * @param jdk the JDK or null
     * @param settings the settings or null
     * @param failures the failures
     */
    public Run {
        results = List.copyOf(results);
        failures = List.copyOf(failures);
    }

    /**
     * A run without failures.
     *
     * @param results the results
     * @param machine the machine or null
     * @param jdk the JDK or null
     * @param settings the settings or null
     */
    public Run(List<Result> results, Machine machine, String jdk, String settings) {
        this(results, machine, jdk, settings, List.of());
    }

    /**
     * The failures file that belongs to a run's JSON.
     *
     * @param json for example {@code bench/results/latest.json}
     * @return for example {@code bench/results/latest.failures.json}
     */
    public static Path failuresFile(Path json) {
        return json.resolveSibling(json.getFileName().toString().replaceFirst("\\.json$", "") + FAILURES_SUFFIX);
    }

    /**
     * Writes the failures of a run beside its JSON, with the machine (which the JSON lacks when nothing
     * produced a result).
     *
     * @param json the run's JSON
     * @param machine this machine
     * @param failures what failed
     * @throws IOException when the file cannot be written
     */
    public static void writeFailures(Path json, Machine machine, List<Failure> failures) throws IOException {
        ObjectNode root = MAPPER.createObjectNode();
        root.set("machine", MAPPER.valueToTree(machine));
        root.set("failures", MAPPER.valueToTree(failures));
        MAPPER.writerWithDefaultPrettyPrinter().writeValue(failuresFile(json).toFile(), root);
    }

    /**
     * Reads a JMH JSON file, and the failures file beside it when there is one.
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
        List<Failure> failures = new ArrayList<>();
        Path ff = failuresFile(file);
        if (Files.isRegularFile(ff)) {
            JsonNode f = MAPPER.readTree(ff.toFile());
            for (JsonNode n : f.path("failures")) {
                failures.add(MAPPER.treeToValue(n, Failure.class));
            }
            if (machine == null && f.hasNonNull("machine")) {
                machine = MAPPER.treeToValue(f.get("machine"), Machine.class);
            }
        }
        return new Run(results, machine, jdk, settings, failures);
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
