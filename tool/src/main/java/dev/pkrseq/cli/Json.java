package dev.pkrseq.cli;

import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.function.BiConsumer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

/** JSON output through Jackson: records as objects, enums by their report names, nulls kept. */
final class Json {
    static final ObjectMapper MAPPER = new ObjectMapper()
            .enable(SerializationFeature.WRITE_ENUMS_USING_TO_STRING);

    private Json() {
    }

    /** Prints one indented JSON document. */
    static void print(PrintWriter out, Object value) {
        try {
            out.println(MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(value));
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
        out.flush();
    }

    /** Prints {@code value} as one indented JSON document with --json, else as text with {@code text}. */
    static <T> void printOr(PrintWriter out, boolean json, T value, BiConsumer<PrintWriter, ? super T> text) {
        if (json) {
            print(out, value);
        } else {
            text.accept(out, value);
        }
    }

    /** Prints one JSON object on one line, for streams of samples. */
    static void printLine(PrintWriter out, Object value) {
        try {
            out.println(MAPPER.writeValueAsString(value));
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
        out.flush();
    }
}
