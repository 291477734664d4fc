package dev.pkrseq;

import dev.pkrseq.pkey.Protection;

/**
 * One virtual memory area of a process, as /proc/PID/smaps lists it.
 *
 * @param start first address
 * @param end one past the last address
 * @param perms the four permission letters, for example {@code rw-p}
 * @param offset file offset
 * @param device {@code major:minor}
 * @param inode inode number, 0 for anonymous memory
 * @param path the mapped file or a pseudo-name such as {@code [stack]}; empty for anonymous memory
 * @param protectionKey the {@code ProtectionKey:} line, or null where the kernel does not report keys
 */
public record Mapping(long start, long end, String perms, long offset, String device, long inode, String path,
        Integer protectionKey) {

    /**
     * The area's size.
     *
     * @return {@code end - start} in bytes
     */
    public long size() {
        return end - start;
    }

    /**
     * Whether an address lies in this area.
     *
     * @param address the address
     * @return true when {@code start <= address < end}
     */
    public boolean contains(long address) {
        return Long.compareUnsigned(address, start) >= 0 && Long.compareUnsigned(address, end) < 0;
    }

    /**
     * Whether this area shares a byte with {@code [low, high)}.
     *
     * @param low first address
     * @param high one past the last address
     * @return true on any overlap
     */
    public boolean overlaps(long low, long high) {
        return Long.compareUnsigned(start, high) < 0 && Long.compareUnsigned(low, end) < 0;
    }

    /**
     * The key, with 0 where the kernel does not report keys (every page then has key 0).
     *
     * @return the protection key
     */
    public int key() {
        return protectionKey == null ? 0 : protectionKey;
    }

    /**
     * The area's protection, from its permission letters.
     *
     * @return for example {@link Protection#READ_WRITE} for {@code rw-p}
     */
    public Protection protection() {
        return Protection.ofPerms(perms);
    }

    /**
     * The area's short name: the last component of its path, {@code [anon]} for anonymous memory.
     *
     * @return for example {@code libc.so.6}, {@code [stack]} or {@code [anon]}
     */
    public String name() {
        return path.isEmpty() ? "[anon]" : path.substring(path.lastIndexOf('/') + 1);
    }

    @Override
    public String toString() {
        return String.format("%x-%x %s %s%s", start, end, perms, path.isEmpty() ? "[anon]" : path,
                protectionKey == null ? "" : " key " + protectionKey);
    }
}
