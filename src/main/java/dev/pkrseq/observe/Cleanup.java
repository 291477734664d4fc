package dev.pkrseq.observe;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;

/**
 * Everything the lab leaves on the machine while it works (child processes, temporary files and
 * directories), in one registry that a single JVM shutdown hook cleans up.
 *
 * <p>A {@code finally} block does not run when SIGINT, SIGTERM or SIGHUP ends the JVM: the JVM runs its
 * shutdown hooks and halts, whatever the other threads are doing. So each child and each temporary path
 * is registered here the moment it is created, in the same critical section as its creation, and the
 * hook (installed on first use) ends the children and removes the paths. Once the hook has started,
 * nothing new may be created: {@link #start}, {@link #tempFile} and {@link #tempDirectory} refuse with
 * {@link ShuttingDownException}, so no thread can create a child or a file behind the hook's back.
 *
 * <p>The hook never holds the registry's lock while it waits, and never waits for a thread of this JVM:
 * a shutdown started from any thread, including one of the lab's own (a worker, a process reaper), cannot
 * deadlock on it. Every wait is bounded: {@link #GRACE} for the children to end by themselves after
 * SIGTERM, then SIGKILL for them and every descendant seen, and {@link #KILL_WAIT} for those to go.
 *
 * <p>What cannot be cleaned: after SIGKILL of this JVM nothing of it runs, so its children run on until
 * they end by themselves, and its files stay.
 */
final class Cleanup {
    /** How long children get to end after SIGTERM (a JVM runs its own hooks then) before SIGKILL. */
    static final Duration GRACE = Duration.ofSeconds(5);
    /** How long to wait for killed processes to be gone. */
    static final Duration KILL_WAIT = Duration.ofSeconds(5);

    private static final Object LOCK = new Object();
    // Guarded by LOCK.
    private static final Map<Long, Process> CHILDREN = new LinkedHashMap<>();
    private static final Set<Path> PATHS = new LinkedHashSet<>();
    private static boolean hookInstalled;
    private static boolean closing;

    private Cleanup() {
    }

    /** Thrown instead of creating a child or a file once the JVM has begun to shut down. */
    static final class ShuttingDownException extends IllegalStateException {
        private static final long serialVersionUID = 1L;

        ShuttingDownException(String what) {
            super("cannot " + what + ": this JVM is shutting down (SIGINT, SIGTERM, SIGHUP or System.exit), and its"
                    + " shutdown hook has already ended the lab's children and removed their files");
        }
    }

    /** Creates something while holding the lock, so that the hook either sees it or refuses it. */
    @FunctionalInterface
    private interface Creation<T> {
        T create() throws IOException;
    }

    /**
     * Starts a process and registers it, atomically with respect to the hook.
     *
     * @throws ShuttingDownException once the hook has run or is running
     */
    static Process start(ProcessBuilder pb) throws IOException {
        Process p = create("start a child process", pb::start);
        // Forget it once it is gone; the reaper thread runs this, so it only takes the lock briefly.
        p.onExit().thenRun(() -> forget(p));
        return p;
    }

    private static <T> T create(String what, Creation<T> creation) throws IOException {
        synchronized (LOCK) {
            if (!closing && !hookInstalled) {
                try {
                    Runtime.getRuntime().addShutdownHook(new Thread(Cleanup::run, "pkrseq-cleanup"));
                    hookInstalled = true;
                } catch (IllegalStateException shutdownInProgress) {
                    closing = true;
                }
            }
            if (closing) {
                throw new ShuttingDownException(what);
            }
            T made = creation.create();
            if (made instanceof Process p) {
                CHILDREN.put(p.pid(), p);
            } else if (made instanceof Path path) {
                PATHS.add(path);
            }
            return made;
        }
    }

    /** {@link Files#createTempFile}, registered. */
    static Path tempFile(String prefix, String suffix) throws IOException {
        return create("create a temporary file", () -> Files.createTempFile(prefix, suffix));
    }

    /** {@link Files#createTempDirectory}, registered. */
    static Path tempDirectory(String prefix) throws IOException {
        return create("create a temporary directory", () -> Files.createTempDirectory(prefix));
    }

    /** Forgets a child that has ended or was ended by its owner. */
    static void forget(Process p) {
        synchronized (LOCK) {
            CHILDREN.remove(p.pid(), p);
        }
    }

    /** Removes a registered file, or a directory and everything in it, and forgets it. Missing is fine. */
    static void delete(Path path) {
        try {
            deleteTree(path);
        } finally {
            synchronized (LOCK) {
                PATHS.remove(path);
            }
        }
    }

    /**
     * Whether the JVM has begun to shut down as far as the lab can tell: the hook ran or is running.
     *
     * @return true once nothing new may be created
     */
    static boolean shuttingDown() {
        synchronized (LOCK) {
            return closing;
        }
    }

    /** The children the hook would end now, for tests. */
    static List<Process> children() {
        synchronized (LOCK) {
            return List.copyOf(CHILDREN.values());
        }
    }

    /** The paths the hook would remove now, for tests. */
    static List<Path> paths() {
        synchronized (LOCK) {
            return List.copyOf(PATHS);
        }
    }

    /** The hook: ends the children and their descendants, then removes the paths. */
    static void run() {
        List<Process> children;
        List<Path> paths;
        synchronized (LOCK) {
            closing = true;
            children = List.copyOf(CHILDREN.values());
            paths = List.copyOf(PATHS);
        }
        end(children);
        for (Path p : paths) {
            try {
                deleteTree(p);
            } catch (UncheckedIOException e) {
                // Nothing to report to in a dying JVM; the others are still worth removing.
            }
        }
    }

    /**
     * Ends processes: SIGTERM first, so that a child JVM runs its own shutdown hooks (its children, its
     * files, a terminal's cursor), SIGKILL after {@link #GRACE} for the children and for every descendant
     * seen meanwhile (a descendant whose parent died is no longer reachable through it, so each is
     * remembered when seen).
     */
    static void end(List<Process> children) {
        Set<ProcessHandle> seen = new LinkedHashSet<>();
        for (Process p : children) {
            p.descendants().forEach(seen::add);
            p.destroy();
        }
        long deadline = System.nanoTime() + GRACE.toNanos();
        for (Process p : children) {
            p.descendants().forEach(seen::add);
            awaitExit(p.toHandle(), deadline);
        }
        List<ProcessHandle> all = new ArrayList<>();
        children.forEach(p -> all.add(p.toHandle()));
        all.addAll(seen);
        for (ProcessHandle h : all) {
            // destroyForcibly on an ended process does nothing; a reused pid is not ours (start time differs).
            h.destroyForcibly();
        }
        long killDeadline = System.nanoTime() + KILL_WAIT.toNanos();
        for (ProcessHandle h : all) {
            awaitExit(h, killDeadline);
        }
    }

    private static void awaitExit(ProcessHandle h, long deadline) {
        CompletableFuture<ProcessHandle> exit = h.onExit();
        try {
            exit.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException | ExecutionException e) {
            // Bounded: a process that does not go in time is left to the next step.
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Removes a file, or a directory and everything in it. Another thread removing the same tree at the
     * same time (the hook and the owner's own clean-up) is fine.
     *
     * @throws UncheckedIOException when something that exists cannot be removed
     */
    static void deleteTree(Path dir) {
        List<Path> paths;
        try (Stream<Path> all = Files.walk(dir)) {
            paths = all.sorted(Comparator.reverseOrder()).toList();
        } catch (NoSuchFileException gone) {
            return;
        } catch (UncheckedIOException e) {
            if (e.getCause() instanceof NoSuchFileException) {
                // Removed under the walk by another thread: walk what is left.
                deleteTree(dir);
                return;
            }
            throw e;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir + " to remove it", e);
        }
        for (Path p : paths) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot remove " + p, e);
            }
        }
    }
}
