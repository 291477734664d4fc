package dev.pkrseq.sequences;

import java.util.Arrays;
import java.util.List;

/**
 * A random operation sequence: how many worker threads, and the steps in order. Its text form is one
 * line: {@code threads=2 reserve=13; t0 alloc read-write; t1 map raw 3; ...}.
 *
 * @param threads worker threads, 1 to 4
 * @param endRegistered whether the workers end with pkrseq's own rseq registration still in place (the
 *     pool must take the areas back once their tasks are gone), instead of unregistering first
 * @param reserved keys the runner allocates before the sequence and frees after it, so that the sequence
 *     can run out of keys (ENOSPC) within a few steps; 0 to 14
 * @param steps the operations
 */
record Sequence(int threads, boolean endRegistered, int reserved, List<Step> steps) {

    Sequence {
        steps = List.copyOf(steps);
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder("threads=" + threads + (reserved > 0 ? " reserve=" + reserved : "")
                + (endRegistered ? " end-registered" : ""));
        for (Step s : steps) {
            b.append("; ").append(s);
        }
        return b.toString();
    }

    /** Reads the text form back. */
    static Sequence parse(String text) {
        List<String> parts = Arrays.stream(text.split(";")).map(String::strip).filter(s -> !s.isEmpty()).toList();
        List<String> head = List.of(parts.get(0).split(" "));
        int threads = Integer.parseInt(head.get(0).substring("threads=".length()));
        int reserved = head.stream().filter(w -> w.startsWith("reserve=")).map(w -> Integer.parseInt(w.substring(8)))
                .findFirst().orElse(0);
        return new Sequence(threads, head.contains("end-registered"), reserved, parts.subList(1, parts.size()).stream()
                .map(Step::parse).toList());
    }
}
