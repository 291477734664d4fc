package dev.pkrseq.proc;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * What {@code /proc/self/task/TID/} says about one thread of this process: its kernel name, its
 * scheduler state and the system call it is blocked in. Each read is one small file; a thread that has
 * exited gives empty answers.
 */
public final class Task {
    private Task() {
    }

    /**
     * Whether the thread still exists.
     *
     * @param tid a kernel task id of this process
     * @return true when {@code /proc/self/task/TID} exists
     */
    public static boolean exists(int tid) {
        return Files.isDirectory(dir(tid));
    }

    /**
     * The thread's kernel name ({@code comm}), at most 15 characters.
     *
     * @param tid a kernel task id of this process
     * @return the name, or empty when the thread is gone
     */
    public static Optional<String> comm(int tid) {
        return read(tid, "comm").map(String::strip);
    }

    /**
     * The thread's scheduler state letter from {@code stat}: R running, S sleeping, D disk wait, T
     * stopped, Z zombie, and so on.
     *
     * @param tid a kernel task id of this process
     * @return the letter, or empty when the thread is gone
     */
    public static Optional<String> state(int tid) {
        // The name in parentheses may hold spaces and parentheses: the state follows the last ')'.
        return read(tid, "stat").map(s -> {
            int close = s.lastIndexOf(')');
            return close < 0 || close + 2 >= s.length() ? "?" : s.substring(close + 2, close + 3);
        });
    }

    /**
     * The thread's {@code syscall} line: the number and six arguments of the system call it is blocked
     * in, then its stack pointer and program counter; {@code running} when it is on a CPU.
     *
     * @param tid a kernel task id of this process
     * @return the line, or empty when the thread is gone or the kernel hides it
     */
    public static Optional<String> syscall(int tid) {
        return read(tid, "syscall").map(String::strip);
    }

    private static Path dir(int tid) {
        return Path.of("/proc/self/task", Integer.toString(tid));
    }

    private static Optional<String> read(int tid, String file) {
        try {
            return Optional.of(Files.readString(dir(tid).resolve(file)));
        } catch (IOException e) {
            return Optional.empty();
        }
    }
}
