package dev.pkrseq.observe;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Mains for {@link ChildJvmSignalTest}: JVMs that use the lab's children and files the way a library user
 * would, to be ended by a signal while their children run.
 */
public final class SignalChildren {
    private SignalChildren() {
    }

    /**
     * Runs two children at once through {@link ChildJvm#run()} on two threads, each a {@link Sleeper} with
     * a grandchild, and keeps a crash-log directory holding a file; then waits for the children.
     */
    public static final class TwoChildren {
        private TwoChildren() {
        }

        /**
         * Starts everything and waits.
         *
         * @param args ignored
         * @throws Exception never in practice: the signal ends it
         */
        public static void main(String[] args) throws Exception {
            Path dir = CrashLog.directory("pkrseq-fault-");
            Files.writeString(dir.resolve("hs_err_pid1.log"), "a crash log the signal must not leave behind");
            Thread[] children = new Thread[2];
            for (int i = 0; i < children.length; i++) {
                children[i] = Thread.ofPlatform().name("child-" + i).start(() -> {
                    try {
                        ChildJvm.of(Sleeper.class).timeout(Duration.ofMinutes(10)).run();
                    } catch (ChildJvm.ChildJvmException e) {
                        // What a signal gives a thread whose child it ended.
                        System.out.println(Thread.currentThread().getName() + ": " + e.getMessage());
                    }
                });
            }
            for (Thread t : children) {
                t.join();
            }
        }
    }

    /** A child that starts a process ChildJvm does not know of (a grandchild), then sleeps. */
    public static final class Sleeper {
        private Sleeper() {
        }

        /**
         * Starts {@code sleep 600} and sleeps.
         *
         * @param args ignored
         * @throws Exception never in practice
         */
        public static void main(String[] args) throws Exception {
            new ProcessBuilder("sleep", "600").start();
            Thread.sleep(600_000);
        }
    }

    /**
     * The broken twin of the library's clean-up: a child process and a temporary file that nothing
     * registered, which a signal leaves behind. It shows that the test's checks find such leftovers.
     */
    public static final class Unregistered {
        private Unregistered() {
        }

        /**
         * Starts {@code sleep 600}, creates a temporary file, and sleeps.
         *
         * @param args ignored
         * @throws Exception never in practice
         */
        public static void main(String[] args) throws Exception {
            Files.createTempFile("pkrseq-child-", ".out");
            new ProcessBuilder("sleep", "600").start();
            Thread.sleep(600_000);
        }
    }

    /**
     * Calls {@code System.exit(7)} from inside one of the lab's own helper threads, a {@link PerCpuStress}
     * worker (through the target's {@code increment()}), while a child JVM with a grandchild runs: the
     * lab's shutdown hooks must neither wait for that worker nor leave the child behind.
     */
    public static final class ExitFromWorker {
        private ExitFromWorker() {
        }

        /**
         * Starts the child, waits until it and its grandchild run, then runs the stress whose first add exits.
         *
         * @param args ignored
         * @throws Exception never in practice: the exit ends it
         */
        public static void main(String[] args) throws Exception {
            Thread.ofPlatform().daemon(true).start(() -> ChildJvm.of(Sleeper.class).timeout(Duration.ofMinutes(10)).run());
            while (ProcessHandle.current().descendants().filter(h -> h.info().command().orElse("").endsWith("/sleep"))
                    .count() == 0) {
                Thread.sleep(10);
            }
            PerCpuStress.run(new PerCpuStress.Target() {
                @Override
                public void increment() {
                    System.exit(7);
                }

                @Override
                public long sum() {
                    return 0;
                }

                @Override
                public long restarts() {
                    return 0;
                }
            }, 2, 1_000_000, true);
            System.out.println("the run returned: the exit did not happen");
        }
    }

    /**
     * Tries to start a child and to make a crash-log directory from a shutdown hook of its own, after the
     * lab's hook has run, and prints what each gave: {@code child=} and {@code directory=}.
     */
    public static final class AfterTheHook {
        private AfterTheHook() {
        }

        /**
         * Runs one child (which installs the lab's hook), adds its own hook, and exits.
         *
         * @param args ignored
         */
        public static void main(String[] args) {
            ChildJvm.of(ChildJvmMisuseChild.Hello.class).run();
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                long deadline = System.nanoTime() + 10_000_000_000L;
                while (!Cleanup.shuttingDown() && System.nanoTime() < deadline) {
                    Thread.onSpinWait();
                }
                try {
                    ChildJvm.of(Sleeper.class).run();
                    System.out.println("child=started");
                } catch (RuntimeException e) {
                    System.out.println("child=" + e.getClass().getSimpleName() + "|" + e.getMessage());
                }
                try {
                    System.out.println("directory=created " + CrashLog.directory("pkrseq-fault-"));
                } catch (RuntimeException e) {
                    System.out.println("directory=" + e.getClass().getSimpleName() + "|" + e.getMessage());
                }
                System.out.flush();
            }));
            System.exit(0);
        }
    }
}
