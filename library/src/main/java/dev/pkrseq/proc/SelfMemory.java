package dev.pkrseq.proc;

import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.OptionalLong;

/**
 * Reads this process's memory through {@code /proc/self/mem} instead of dereferencing addresses.
 *
 * <p>Why: a Java access through a native segment to an unmapped or protected address raises SIGSEGV,
 * which HotSpot treats as a crash. A {@code pread} of {@code /proc/self/mem} at such an address fails
 * with EIO instead, and the kernel's foreign access ignores protection keys. So this is the way to look
 * at memory pkrseq does not own and cannot prove alive: another thread's thread control block, a DTV,
 * a candidate address found by a scan. It costs one system call per read.
 *
 * <p>Not thread-safe; open one per task and close it.
 */
public final class SelfMemory implements Closeable {
    private static final Path MEM = Path.of("/proc/self/mem");

    private final FileChannel channel;

    private SelfMemory(FileChannel channel) {
        this.channel = channel;
    }

    /**
     * Opens {@code /proc/self/mem} for reading.
     *
     * @return the reader; close it
     * @throws UncheckedIOException when the kernel refuses (for example under a hardened ptrace policy)
     */
    public static SelfMemory open() {
        try {
            return new SelfMemory(FileChannel.open(MEM, StandardOpenOption.READ));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open " + MEM + ": " + e.getMessage(), e);
        }
    }

    /**
     * Reads bytes at an address.
     *
     * @param address the first byte
     * @param length how many bytes, at most {@link Integer#MAX_VALUE}
     * @return a little-endian buffer of exactly {@code length} bytes, or null when any of them is not
     *     mapped (EIO) or the read came back short
     */
    public ByteBuffer read(long address, int length) {
        ByteBuffer b = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
        try {
            while (b.hasRemaining()) {
                int n = channel.read(b, address + b.position());
                if (n <= 0) {
                    return null;
                }
            }
        } catch (IOException e) {
            // EIO: the range holds an unmapped page. That is an answer, not an error.
            return null;
        }
        return b.flip();
    }

    /**
     * Reads one 64-bit word.
     *
     * @param address the word's address
     * @return its value, or empty when the address is not mapped
     */
    public OptionalLong word(long address) {
        ByteBuffer b = read(address, Long.BYTES);
        return b == null ? OptionalLong.empty() : OptionalLong.of(b.getLong(0));
    }

    /**
     * The slot count of a glibc DTV: the word glibc keeps just before it ({@code dtv[-1].counter}, at
     * {@code dtv - 16}).
     *
     * @param dtv the DTV's address (the word at thread pointer + 8)
     * @return the count, or 0 where the word is unreadable or not a plausible count (a DTV has a few
     *     dozen slots; anything from 2^20 up means this is not a glibc DTV)
     */
    public long dtvSlots(long dtv) {
        OptionalLong n = word(dtv - 16);
        return n.isPresent() && n.getAsLong() > 0 && n.getAsLong() < (1 << 20) ? n.getAsLong() : 0;
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
