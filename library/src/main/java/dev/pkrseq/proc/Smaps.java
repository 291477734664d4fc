package dev.pkrseq.proc;

import dev.pkrseq.Mapping;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Parses /proc/PID/smaps: each mapping with its {@code ProtectionKey}.
 *
 * <p>The kernel prints {@code ProtectionKey:} only where protection keys are enabled; elsewhere
 * {@link Mapping#protectionKey()} is null. smaps is a snapshot: it is generated while it is read, so read
 * it after the change you want to see.
 */
public final class Smaps {
    private static final Pattern HEADER =
            Pattern.compile("^([0-9a-f]+)-([0-9a-f]+) (\\S{4}) ([0-9a-f]+) (\\S+) (\\d+)\\s*(.*)$");
    private static final Path SELF = Path.of("/proc/self/smaps");

    private Smaps() {
    }

    /**
     * This JVM's mappings.
     *
     * @return every mapping, in address order
     */
    public static List<Mapping> self() {
        return read(SELF);
    }

    /**
     * Reads an smaps file.
     *
     * @param file for example {@code /proc/1234/smaps}
     * @return every mapping, in address order
     */
    public static List<Mapping> read(Path file) {
        try (BufferedReader r = Files.newBufferedReader(file)) {
            return parse(r);
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + file, e);
        }
    }

    /**
     * Parses smaps text.
     *
     * @param in the text
     * @return every mapping, in the order given
     * @throws IOException when reading fails
     */
    public static List<Mapping> parse(Reader in) throws IOException {
        BufferedReader r = in instanceof BufferedReader b ? b : new BufferedReader(in);
        List<Mapping> out = new ArrayList<>();
        String line;
        long start = 0;
        long end = 0;
        String perms = null;
        long offset = 0;
        String device = null;
        long inode = 0;
        String path = null;
        Integer key = null;
        while ((line = r.readLine()) != null) {
            Matcher m = HEADER.matcher(line);
            if (m.matches()) {
                if (perms != null) {
                    out.add(new Mapping(start, end, perms, offset, device, inode, path, key));
                }
                start = Long.parseUnsignedLong(m.group(1), 16);
                end = Long.parseUnsignedLong(m.group(2), 16);
                perms = m.group(3);
                offset = Long.parseUnsignedLong(m.group(4), 16);
                device = m.group(5);
                inode = Long.parseLong(m.group(6));
                path = m.group(7).strip();
                key = null;
            } else if (line.startsWith("ProtectionKey:")) {
                key = Integer.parseInt(line.substring("ProtectionKey:".length()).strip());
            }
        }
        if (perms != null) {
            out.add(new Mapping(start, end, perms, offset, device, inode, path, key));
        }
        return out;
    }

    /**
     * The mappings that share a byte with {@code [low, high)}.
     *
     * @param vmas a snapshot
     * @param low first address
     * @param high one past the last address
     * @return the overlapping mappings, in order
     */
    public static List<Mapping> overlapping(List<Mapping> vmas, long low, long high) {
        return vmas.stream().filter(v -> v.overlaps(low, high)).toList();
    }

    /**
     * The mapping that holds an address.
     *
     * @param vmas a snapshot
     * @param address the address
     * @return the mapping, or empty when nothing is mapped there
     */
    public static Optional<Mapping> containing(List<Mapping> vmas, long address) {
        return vmas.stream().filter(v -> v.contains(address)).findFirst();
    }
}
