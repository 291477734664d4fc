package dev.pkrseq.rseq;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A very small x86_64 assembler: the caller writes each instruction's bytes itself, with its GNU
 * assembler text and a comment; this class places labels, resolves the few references between them
 * (rel8, rel32, absolute and difference quads), and renders the result twice, as a listing a reader can
 * check byte by byte, and as GNU assembler source that reproduces the same bytes.
 *
 * <p>Nothing here encodes an instruction from its text: the bytes are written out where the code is
 * generated ({@link RseqCode}), and a test assembles {@link #source()} with {@code as} to prove that the
 * text and the bytes agree.
 */
final class X86Asm {
    /** One line of the listing: a label, or an instruction or datum with its bytes. */
    record Line(int offset, int length, String asm, String comment, boolean label) {
    }

    private enum Kind { REL8, REL32, ABS64, DIFF64 }

    private record Fixup(Kind kind, int at, int end, String target, String minus, int line) {
    }

    /** Short jumps whose targets are out of rel8 reach, by line index: to be emitted with a rel32. */
    static final class ShortJumpsOutOfRange extends IllegalStateException {
        private static final long serialVersionUID = 1L;
        private final transient java.util.Set<Integer> lines;

        ShortJumpsOutOfRange(java.util.Set<Integer> lines, String first) {
            super("rel8 out of range: " + first);
            this.lines = java.util.Set.copyOf(lines);
        }

        java.util.Set<Integer> lines() {
            return lines;
        }
    }

    private final long base;
    private byte[] code = new byte[256];
    private int size;
    private final Map<String, Integer> labels = new HashMap<>();
    private final List<Fixup> fixups = new ArrayList<>();
    private final List<Line> lines = new ArrayList<>();
    private boolean done;

    /**
     * Starts an empty program.
     *
     * @param base the address the code will run at; absolute quads are resolved against it
     */
    X86Asm(long base) {
        this.base = base;
    }

    /** Defines a label at the current offset. */
    X86Asm label(String name, String comment) {
        if (labels.putIfAbsent(name, size) != null) {
            throw new IllegalArgumentException("label defined twice: " + name);
        }
        lines.add(new Line(size, 0, name + ":", comment, true));
        return this;
    }

    /** Emits an instruction or datum whose bytes are complete. */
    X86Asm op(String asm, String comment, int... bytes) {
        int at = size;
        put(bytes);
        lines.add(new Line(at, size - at, asm, comment, false));
        return this;
    }

    /** Emits an instruction that ends in a rel8 to a label (a short jump). */
    X86Asm rel8(String asm, String comment, String target, int... opcode) {
        int at = size;
        put(opcode);
        put(0);
        fixups.add(new Fixup(Kind.REL8, size - 1, size, target, null, lines.size()));
        lines.add(new Line(at, size - at, asm, comment, false));
        return this;
    }

    /** Emits an instruction that ends in a rel32 to a label (a RIP-relative operand). */
    X86Asm rel32(String asm, String comment, String target, int... opcode) {
        int at = size;
        put(opcode);
        put(0, 0, 0, 0);
        fixups.add(new Fixup(Kind.REL32, size - 4, size, target, null, lines.size()));
        lines.add(new Line(at, size - at, asm, comment, false));
        return this;
    }

    /** Emits {@code .quad target}: the label's absolute address. */
    X86Asm quad(String target, String comment) {
        int at = size;
        put(new int[8]);
        fixups.add(new Fixup(Kind.ABS64, at, size, target, null, lines.size()));
        lines.add(new Line(at, 8, ".quad " + target, comment, false));
        return this;
    }

    /** Emits {@code .quad target - minus}: the distance between two labels. */
    X86Asm quadDifference(String target, String minus, String comment) {
        int at = size;
        put(new int[8]);
        fixups.add(new Fixup(Kind.DIFF64, at, size, target, minus, lines.size()));
        lines.add(new Line(at, 8, ".quad " + target + " - " + minus, comment, false));
        return this;
    }

    /** Pads with {@code fill} bytes to a multiple of {@code alignment}. */
    X86Asm align(int alignment, int fill, String comment) {
        int at = size;
        while (size % alignment != 0) {
            put(fill);
        }
        if (size == at) {
            return this;
        }
        lines.add(new Line(at, size - at, String.format(Locale.ROOT, ".balign %d, 0x%02x", alignment, fill), comment,
                false));
        return this;
    }

    /** The offset of a label. */
    int offset(String label) {
        Integer at = labels.get(label);
        if (at == null) {
            throw new IllegalArgumentException("undefined label: " + label);
        }
        return at;
    }

    /** Resolves the references and returns the bytes. */
    byte[] assemble() {
        if (!done) {
            java.util.Set<Integer> far = new java.util.TreeSet<>();
            String first = null;
            for (Fixup f : fixups) {
                long target = offset(f.target());
                switch (f.kind()) {
                    case REL8 -> {
                        long rel = target - f.end();
                        if (rel < Byte.MIN_VALUE || rel > Byte.MAX_VALUE) {
                            far.add(f.line());
                            first = first == null ? f.target() + " (" + rel + ")" : first;
                        }
                        code[f.at()] = (byte) rel;
                    }
                    case REL32 -> le(f.at(), target - f.end(), 4);
                    case ABS64 -> le(f.at(), base + target, 8);
                    case DIFF64 -> le(f.at(), target - offset(f.minus()), 8);
                    default -> throw new AssertionError(f.kind());
                }
            }
            if (!far.isEmpty()) {
                throw new ShortJumpsOutOfRange(far, first);
            }
            done = true;
        }
        return Arrays.copyOf(code, size);
    }

    /**
     * The listing: offset, bytes, assembler text and comment, one instruction per line, labels on lines of
     * their own. An instruction of more than 9 bytes continues on lines of its own (offset and bytes, as
     * objdump prints them); a run of padding is abbreviated.
     */
    String listing() {
        return listing(0, lines.size());
    }

    /**
     * The listing of lines {@code from} (inclusive) to {@code to} (exclusive), as {@link #listing()} renders
     * them.
     */
    String listing(int from, int to) {
        byte[] b = assemble();
        StringBuilder sb = new StringBuilder();
        for (Line l : lines.subList(from, to)) {
            String text;
            if (l.label()) {
                text = String.format(Locale.ROOT, "%04x  %-26s  %-34s  %s", l.offset(), "", l.asm(), l.comment());
            } else if (l.asm().startsWith(".balign")) {
                text = String.format(Locale.ROOT, "%04x  %-26s      %-30s  %s", l.offset(), hex(b, l.offset(), l.length()),
                        l.asm(), l.comment());
            } else {
                int first = Math.min(l.length(), BYTES_PER_LINE);
                text = String.format(Locale.ROOT, "%04x  %-26s      %-30s  %s", l.offset(), bytes(b, l.offset(), first),
                        l.asm(), l.comment());
                for (int at = first; at < l.length(); at += BYTES_PER_LINE) {
                    text = text.stripTrailing() + "\n" + String.format(Locale.ROOT, "%04x  %s", l.offset() + at,
                            bytes(b, l.offset() + at, Math.min(BYTES_PER_LINE, l.length() - at)));
                }
            }
            sb.append(text.stripTrailing()).append('\n');
        }
        return sb.toString();
    }

    /** How many lines (labels and instructions) the program has so far: a mark for {@link #listing(int, int)}. */
    int lineCount() {
        return lines.size();
    }

    /** GNU assembler source that assembles, at address {@code base}, to exactly {@link #assemble()}. */
    String source() {
        StringBuilder sb = new StringBuilder("        .text\n");
        for (Line l : lines) {
            sb.append(l.label() ? l.asm() : "        " + l.asm()).append('\n');
        }
        return sb.toString();
    }

    List<Line> lines() {
        return List.copyOf(lines);
    }

    private static final int BYTES_PER_LINE = 9;

    /** Bytes as two-digit hex separated by spaces. */
    static String bytes(byte[] b, int from, int length) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < length; i++) {
            sb.append(i == 0 ? "" : " ").append(String.format(Locale.ROOT, "%02x", b[from + i] & 0xff));
        }
        return sb.toString();
    }

    /** Bytes as two-digit hex separated by spaces; a run longer than 9 bytes (padding) is abbreviated. */
    static String hex(byte[] b, int from, int length) {
        StringBuilder sb = new StringBuilder();
        int shown = length > 9 ? 2 : length;
        for (int i = 0; i < shown; i++) {
            sb.append(i == 0 ? "" : " ").append(String.format(Locale.ROOT, "%02x", b[from + i] & 0xff));
        }
        if (shown < length) {
            sb.append(" ... (").append(length).append(" bytes)");
        }
        return sb.toString();
    }

    /** The little-endian bytes of a 32-bit value, for immediates and displacements. */
    static int[] le32(long value) {
        if (value < Integer.MIN_VALUE || value > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("does not fit in 32 bits: " + value);
        }
        return new int[] {(int) value & 0xff, (int) (value >>> 8) & 0xff, (int) (value >>> 16) & 0xff,
                (int) (value >>> 24) & 0xff};
    }

    /** Joins opcode bytes and operand bytes into one array. */
    static int[] cat(int[]... parts) {
        int n = 0;
        for (int[] p : parts) {
            n += p.length;
        }
        int[] all = new int[n];
        int at = 0;
        for (int[] p : parts) {
            System.arraycopy(p, 0, all, at, p.length);
            at += p.length;
        }
        return all;
    }

    private void put(int... bytes) {
        if (done) {
            throw new IllegalStateException("already assembled");
        }
        if (size + bytes.length > code.length) {
            code = Arrays.copyOf(code, Math.max(code.length * 2, size + bytes.length));
        }
        for (int v : bytes) {
            code[size++] = (byte) v;
        }
    }

    private void le(int at, long value, int n) {
        if (n == 4 && (value < Integer.MIN_VALUE || value > Integer.MAX_VALUE)) {
            throw new IllegalStateException("rel32 out of range: " + value);
        }
        for (int i = 0; i < n; i++) {
            code[at + i] = (byte) (value >>> (8 * i));
        }
    }
}
