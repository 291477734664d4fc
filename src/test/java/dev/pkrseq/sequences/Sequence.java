package dev.pkrseq.sequences;

import java.util.Arrays;
import java.util.List;

/**
 * A random operation sequence: how many worker threads, and the steps in order. Its text form is one
 * line: {@code threads=2; t0 alloc read-write; t1 map raw 3; ...}.
 *
 * @param threads worker threads, 1 to 4
 * @param endRegistered whether the workers end with pkrseq's own rseq registration still in place (the
 *     pool must take the areas back once their tasks are gone), instead of unregistering first
 * @param steps the operations
 */
record Sequence(int threads, boolean endRegistered, List<Step> steps) {

    Sequence {
        steps = List.copyOf(steps);
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder("threads=" + threads + (endRegistered ? " end-registered" : ""));
        for (Step s : steps) {
            b.append("; ").append(s);
        }
        return b.toString();
    }

    /** Reads the text form back. */
    static Sequence parse(String text) {
        List<String> parts = Arrays.stream(text.split(";")).map(String::strip).filter(s -> !s.isEmpty()).toList();
        String head = parts.get(0);
        int threads = Integer.parseInt(head.substring("threads=".length()).split(" ")[0]);
        return new Sequence(threads, head.endsWith(" end-registered"), parts.subList(1, parts.size()).stream()
                .map(Step::parse).toList());
    }
}
