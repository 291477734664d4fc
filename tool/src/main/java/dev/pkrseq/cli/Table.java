package dev.pkrseq.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** A plain-text table with left-aligned columns; cells wider than a column's limit wrap at spaces. */
final class Table {
    private final String[] headers;
    private final int[] limits;
    private final List<String[]> rows = new ArrayList<>();

    Table(String... headers) {
        this.headers = headers;
        this.limits = new int[headers.length];
        Arrays.fill(limits, Integer.MAX_VALUE);
    }

    /** Caps a column's width; longer cells wrap onto more lines. */
    Table limit(int column, int width) {
        limits[column] = width;
        return this;
    }

    Table row(Object... cells) {
        String[] r = new String[headers.length];
        for (int i = 0; i < r.length; i++) {
            r[i] = i < cells.length && cells[i] != null ? cells[i].toString() : "";
        }
        rows.add(r);
        return this;
    }

    /** Adds the row only when {@code condition} holds, for optional lines such as a reason. */
    Table rowIf(boolean condition, Object... cells) {
        return condition ? row(cells) : this;
    }

    boolean isEmpty() {
        return rows.isEmpty();
    }

    void print(PrintWriter out, String indent) {
        int[] width = new int[headers.length];
        for (int i = 0; i < headers.length; i++) {
            width[i] = Math.min(limits[i], headers[i].length());
        }
        List<List<List<String>>> wrapped = new ArrayList<>();
        for (String[] r : rows) {
            List<List<String>> cells = new ArrayList<>();
            for (int i = 0; i < r.length; i++) {
                List<String> lines = wrap(r[i], limits[i]);
                for (String l : lines) {
                    width[i] = Math.max(width[i], l.length());
                }
                cells.add(lines);
            }
            wrapped.add(cells);
        }
        boolean headed = Arrays.stream(headers).anyMatch(h -> !h.isEmpty());
        if (headed) {
            out.println(line(indent, width, Arrays.asList(headers)));
        }
        for (List<List<String>> cells : wrapped) {
            int height = cells.stream().mapToInt(List::size).max().orElse(1);
            for (int k = 0; k < height; k++) {
                List<String> parts = new ArrayList<>();
                for (List<String> c : cells) {
                    parts.add(k < c.size() ? c.get(k) : "");
                }
                out.println(line(indent, width, parts));
            }
        }
        out.flush();
    }

    /** One line of cells, each padded to its column's width and two spaces apart, with no trailing space. */
    static String line(String indent, int[] width, List<String> cells) {
        StringBuilder sb = new StringBuilder(indent);
        for (int i = 0; i < cells.size(); i++) {
            String c = cells.get(i);
            sb.append(c);
            if (i < cells.size() - 1) {
                sb.append(" ".repeat(width[i] - c.length() + 2));
            }
        }
        return sb.toString().stripTrailing();
    }

    static List<String> wrap(String text, int limit) {
        // Most cells fit: watch prints thousands of them a second.
        if (text.length() <= limit && text.indexOf('\n') < 0) {
            return List.of(text);
        }
        List<String> lines = new ArrayList<>();
        for (String paragraph : text.split("\n", -1)) {
            StringBuilder cur = new StringBuilder();
            for (String word : paragraph.split(" ")) {
                if (cur.length() > 0 && cur.length() + 1 + word.length() > limit) {
                    lines.add(cur.toString());
                    cur.setLength(0);
                }
                if (cur.length() > 0) {
                    cur.append(' ');
                }
                cur.append(word);
            }
            lines.add(cur.toString());
        }
        return lines;
    }
}
