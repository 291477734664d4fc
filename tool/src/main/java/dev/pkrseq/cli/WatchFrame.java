package dev.pkrseq.cli;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import dev.pkrseq.lab.rseq.RseqWatch;

/**
 * One frame of {@code watch}, fitted to the terminal: no line longer than the width (a line that wraps
 * takes two rows, and the redraw, which moves the cursor up by lines, would leave frames piling up), and
 * no more lines than the terminal has rows (moving up stops at the top of the screen). Narrow terminals
 * get short headings and lose the columns that carry nothing (mm_cid and node_id where the registration
 * does not cover them); the share column lists the CPUs with the largest shares that fit and counts the
 * rest ("+5 more"), so that it summarises however many CPUs there are.
 */
final class WatchFrame {
    /** The narrowest width the frame is laid out for; narrower terminals get lines cut at their width. */
    static final int MIN_WIDTH = 60;
    private static final String INDENT = "  ";
    /** The share column's width off a terminal: about eight CPUs, then "+N more". */
    private static final int PLAIN_SHARE_WIDTH = 80;

    private WatchFrame() {
    }

    /** The terminal's size, columns and rows. */
    record Size(int columns, int rows) {
    }

    /**
     * The terminal's size: {@code COLUMNS} and {@code LINES} where set (a shell exports them for this
     * purpose), else what {@code stty size} reads from the controlling terminal, else 80 × 24.
     */
    static Size terminalSize() {
        Integer columns = positive(System.getenv("COLUMNS"));
        Integer rows = positive(System.getenv("LINES"));
        if (columns == null || rows == null) {
            Size tty = stty();
            if (tty != null) {
                columns = columns == null ? tty.columns() : columns;
                rows = rows == null ? tty.rows() : rows;
            }
        }
        return new Size(columns == null ? 80 : columns, rows == null ? 24 : rows);
    }

    private static Integer positive(String s) {
        try {
            int v = s == null ? 0 : Integer.parseInt(s.trim());
            return v > 0 ? v : null;
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private static Size stty() {
        File tty = new File("/dev/tty");
        if (!tty.canRead()) {
            return null;
        }
        try {
            Process p = new ProcessBuilder("stty", "size").redirectInput(tty).redirectError(ProcessBuilder.Redirect.DISCARD)
                    .start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).trim();
            if (!p.waitFor(2, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroy();
                return null;
            }
            String[] rc = out.split("\\s+");
            Integer rows = positive(rc[0]);
            Integer columns = rc.length > 1 ? positive(rc[1]) : null;
            return rows == null || columns == null ? null : new Size(columns, rows);
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    /**
     * Lays out a frame.
     *
     * @param k the sample number
     * @param elapsedNanos time since the watch started
     * @param round the workers' samples
     * @param size the terminal's size; null off a terminal (plain lines, nothing left out)
     * @return the lines, none wider than the width, at most {@code rows - 1} of them
     */
    static List<String> lines(int k, long elapsedNanos, List<RseqWatch.ThreadSample> round, Size size) {
        int width = size == null ? Integer.MAX_VALUE : size.columns();
        boolean narrow = width < 100;
        // Off a terminal, and on a wide one, every column stays: scripts that read the lines find them all.
        boolean mmCid = !narrow || round.stream().anyMatch(s -> s.mmCid() != null);
        boolean node = !narrow || round.stream().anyMatch(s -> s.nodeId() != null);
        List<String> header = new ArrayList<>(List.of(narrow ? "#" : "THREAD", "TID", "CPU"));
        if (mmCid) {
            header.add(narrow ? "CID" : "MM_CID");
        }
        if (node) {
            header.add("NODE");
        }
        header.add(narrow ? "MOVES" : "MIGRATIONS");
        header.add(narrow ? "SHARE" : "SHARE OF SAMPLES PER CPU");
        List<List<String>> rows = new ArrayList<>();
        for (RseqWatch.ThreadSample s : round) {
            List<String> r = new ArrayList<>(List.of(Integer.toString(s.index()), Integer.toString(s.tid()),
                    s.ended() == null ? Integer.toString(s.cpuId()) : "-"));
            if (mmCid) {
                r.add(s.mmCid() == null ? "-" : s.mmCid().toString());
            }
            if (node) {
                r.add(s.nodeId() == null ? "-" : s.nodeId().toString());
            }
            r.add(Long.toString(s.migrations()));
            r.add(null);
            rows.add(r);
        }
        int last = header.size() - 1;
        int[] w = new int[header.size()];
        for (int i = 0; i < last; i++) {
            w[i] = header.get(i).length();
            for (List<String> r : rows) {
                w[i] = Math.max(w[i], r.get(i).length());
            }
        }
        int used = INDENT.length();
        for (int i = 0; i < last; i++) {
            used += w[i] + 2;
        }
        // The last column gets what is left of the line; a line as wide as the terminal would make some
        // terminals wrap the cursor, so stop one short.
        int room = size == null ? PLAIN_SHARE_WIDTH : Math.max(8, width - 1 - used);
        for (int j = 0; j < rows.size(); j++) {
            RseqWatch.ThreadSample s = round.get(j);
            rows.get(j).set(last, s.ended() == null ? share(s.cpuSamples(), s.samples(), room) : cut("ended: " + s.ended(), room));
        }
        int maxRows = size == null ? Integer.MAX_VALUE : Math.max(4, size.rows() - 1);
        List<String> lines = new ArrayList<>();
        lines.add("");
        lines.add(String.format(Locale.ROOT, "sample %d at %.1f s", k, elapsedNanos / 1e9));
        lines.add(line(header, w, width));
        int fit = rows.size() <= maxRows - lines.size() ? rows.size() : Math.max(0, maxRows - lines.size() - 1);
        for (int j = 0; j < fit; j++) {
            lines.add(line(rows.get(j), w, width));
        }
        if (fit < rows.size()) {
            lines.add(cut(INDENT + "... " + (rows.size() - fit) + " more workers (a taller terminal or --json shows them)",
                    width - 1));
        }
        return lines;
    }

    private static String line(List<String> cells, int[] w, int width) {
        return cut(Table.line(INDENT, w, cells), width == Integer.MAX_VALUE ? width : width - 1);
    }

    /**
     * The share of samples per CPU, largest first, as many as fit in {@code room} characters, then how many
     * more CPUs there are: "cpu1 60% cpu0 40%", or "cpu3 30% cpu1 20% +6 more".
     */
    static String share(Map<Integer, Long> cpuSamples, long samples, int room) {
        List<Map.Entry<Integer, Long>> byShare = new ArrayList<>(cpuSamples.entrySet());
        byShare.sort(Map.Entry.<Integer, Long>comparingByValue(Comparator.reverseOrder())
                .thenComparing(Map.Entry.comparingByKey()));
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < byShare.size(); i++) {
            Map.Entry<Integer, Long> e = byShare.get(i);
            String part = (sb.length() == 0 ? "" : " ") + "cpu" + e.getKey() + " " + Math.round(100.0 * e.getValue() / samples) + "%";
            int left = byShare.size() - i - 1;
            String more = left == 0 ? "" : " +" + left + " more";
            if (sb.length() + part.length() + more.length() > room) {
                String rest = (sb.length() == 0 ? "" : " ") + "+" + (byShare.size() - i) + (sb.length() == 0 ? " CPUs" : " more");
                return sb.append(rest).toString();
            }
            sb.append(part);
        }
        return sb.toString();
    }

    private static String cut(String s, int width) {
        return s.length() <= width ? s : s.substring(0, Math.max(0, width - 3)) + "...";
    }

    /** A fixed line (the header above the frames), wrapped at spaces to the width. */
    static List<String> wrap(String line, Size size) {
        return size == null ? List.of(line) : Table.wrap(line, Math.max(20, size.columns() - 1)).stream()
                .map(l -> cut(l, size.columns() - 1)).toList();
    }
}
