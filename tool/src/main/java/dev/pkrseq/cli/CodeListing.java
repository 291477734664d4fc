package dev.pkrseq.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code pkrseq percpu --code --json}: the generated machine code's listing as JSON, one member per line of
 * the text listing.
 *
 * @param page the code page's address, as hex
 * @param perms the page's protection, for example "r-x"
 * @param lines the listing, in address order
 */
record CodeListing(String page, String perms, List<Line> lines) {
    private static final Pattern HEADER = Pattern.compile("page (0x[0-9a-f]+) \\(([-rwxp]+)\\).*");
    /** Columns are separated by two spaces or more; the text inside a column has single spaces only. */
    private static final Pattern COLUMNS = Pattern.compile(" {2,}");

    /**
     * One line of the listing: a label, or an instruction or datum with its bytes.
     *
     * @param offset from the page's start
     * @param label the label defined here (without the colon), null on an instruction line
     * @param bytes the encoded bytes as hex pairs, null on a label line
     * @param instruction the assembler text, null on a label line
     * @param comment what the line is for, null when it has no comment
     */
    record Line(int offset, String label, String bytes, String instruction, String comment) {
    }

    /** Parses {@code PerCpuCounter.generatedCode()}'s text. */
    static CodeListing parse(String listing) {
        List<String> text = listing.lines().toList();
        Matcher h = HEADER.matcher(text.get(0));
        if (!h.matches()) {
            throw new IllegalStateException("unexpected listing header: " + text.get(0));
        }
        List<Line> lines = new ArrayList<>();
        for (String l : text.subList(1, text.size())) {
            String[] c = COLUMNS.split(l.strip());
            int offset = Integer.parseInt(c[0], 16);
            if (c.length >= 2 && c[1].endsWith(":")) {
                lines.add(new Line(offset, c[1].substring(0, c[1].length() - 1), null, null, c.length > 2 ? c[2] : null));
            } else if (c.length >= 3) {
                lines.add(new Line(offset, null, c[1], c[2], c.length > 3 ? c[3] : null));
            } else {
                throw new IllegalStateException("unexpected listing line: " + l);
            }
        }
        return new CodeListing(h.group(1), h.group(2), lines);
    }
}
