package dev.pkrseq.cli;

import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.function.BiConsumer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * JSON output through Jackson: records as objects, enums by their report names, nulls kept. Every
 * document starts with {@code "schema"}: the document's kind and version, for example
 * {@code "pkrseq.probe/1"}, which changes whenever a member is renamed, removed or changes its meaning.
 *
 * <p>One naming scheme across commands: members in camelCase, named after the C field or symbol they
 * hold where there is one ({@code cpu_id} is {@code cpuId}, {@code __rseq_offset} is {@code offset} in
 * an {@code rseq} object); addresses as hex strings; absent values null, with {@code reason} saying why;
 * a thread as an object with at least {@code name} and {@code tid}.
 */
final class Json {
    static final ObjectMapper MAPPER = new ObjectMapper()
            .enable(SerializationFeature.WRITE_ENUMS_USING_TO_STRING);

    /** The version every document's schema ends with; see the class comment. */
    static final int VERSION = 1;

    private Json() {
    }

    /**
     * The schema name of one kind of document.
     *
     * @param kind for example "probe" or "pkeys.key"
     * @return for example "pkrseq.probe/1"
     */
    static String schema(String kind) {
        return "pkrseq." + kind + "/" + VERSION;
    }

    /** {@code value} as a JSON object whose first member is {@code "schema"}. */
    static ObjectNode document(String kind, Object value) {
        ObjectNode doc = MAPPER.createObjectNode();
        doc.put("schema", schema(kind));
        JsonNode tree = value instanceof JsonNode n ? n : MAPPER.valueToTree(value);
        doc.setAll((ObjectNode) tree);
        return doc;
    }

    /**
     * Replaces a flat {@code "thread"} name and {@code "tid"} with one {@code "thread"} object, the shape
     * every other document uses for a thread.
     */
    static ObjectNode nestThread(Object value) {
        ObjectNode tree = MAPPER.valueToTree(value);
        ObjectNode out = MAPPER.createObjectNode();
        JsonNode name = tree.get("thread");
        JsonNode tid = tree.get("tid");
        tree.properties().forEach(e -> {
            if (e.getKey().equals("thread")) {
                ObjectNode t = out.putObject("thread");
                t.set("name", name);
                t.set("tid", tid);
            } else if (!e.getKey().equals("tid")) {
                out.set(e.getKey(), e.getValue());
            }
        });
        return out;
    }

    /** Prints one indented JSON document of the given kind. */
    static void print(PrintWriter out, String kind, Object value) {
        try {
            out.println(MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(document(kind, value)));
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
        out.flush();
    }

    /** Prints {@code value} as one indented JSON document with --json, else as text with {@code text}. */
    static <T> void printOr(PrintWriter out, boolean json, String kind, T value, BiConsumer<PrintWriter, ? super T> text) {
        if (json) {
            print(out, kind, value);
        } else {
            text.accept(out, value);
        }
    }

    /** Prints one JSON object of the given kind on one line, for streams of samples. */
    static void printLine(PrintWriter out, String kind, Object value) {
        try {
            out.println(MAPPER.writeValueAsString(document(kind, value)));
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
        out.flush();
    }
}
