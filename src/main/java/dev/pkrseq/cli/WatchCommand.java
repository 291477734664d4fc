package dev.pkrseq.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.BufferedReader;
import java.io.Console;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

import dev.pkrseq.observe.ChildJvm;
import dev.pkrseq.observe.RseqExperiments;
import dev.pkrseq.observe.RseqWatch;
import dev.pkrseq.rseq.Rseq;
import dev.pkrseq.sys.Sys;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code pkrseq watch}: a live view of worker threads moving between CPUs, read from their struct rseq. */
@Command(name = "watch", mixinStandardHelpOptions = true,
        description = {"Watch, like top, the CPU and mm_cid that worker threads' rseq areas show.",
                "",
                "Starts worker threads and shows the CPU, mm_cid and node_id each one's struct rseq holds, how "
                        + "often it moved, and its share of samples on each CPU. The watcher reads the workers' rseq areas"
                        + " directly: no system call per sample. Ends at Ctrl-C, after --duration or --samples. In a "
                        + "terminal the view redraws in place; otherwise it prints plain lines."})
final class WatchCommand implements Callable<Integer> {
    private static final String ESC = "\u001b[";

    @Spec
    CommandSpec spec;

    @Option(names = "--threads", paramLabel = "N", description = {"Worker threads to start, 1 to 512 per CPU (4096 at most);",
            "default: the number of CPUs, ${DEFAULT-VALUE}. They run under SCHED_IDLE, the lowest priority."})
    int threads = Sys.onlineCpus();

    @Option(names = "--workload", paramLabel = "KIND", converter = WorkloadConverter.class,
            description = "What the workers do: spin (busy loop), yield (sched_yield in a loop) or sleep (1 ms sleeps). Default: ${DEFAULT-VALUE}.")
    RseqWatch.Workload workload = RseqWatch.Workload.SPIN;

    @Option(names = "--interval", paramLabel = "TIME", converter = Durations.class,
            description = "Time between samples, for example 200ms or 1s (default: 500ms).")
    Duration interval = Duration.ofMillis(500);

    @Option(names = "--duration", paramLabel = "TIME", converter = Durations.class,
            description = "Stop after this long, for example 10s (default: run until Ctrl-C).")
    Duration duration;

    @Option(names = "--samples", paramLabel = "K", description = "Print K samples, then stop.")
    Integer samples;

    @Option(names = "--json", description = "Print one JSON object per worker per sample, one per line.")
    boolean json;

    @Option(names = "--own-registration",
            description = {"Have the workers use pkrseq's own registration, which covers mm_cid and node_id. The kernel",
                    "refuses it beside glibc's (EINVAL), so where glibc registered rseq pkrseq reruns this command in",
                    "a child JVM with GLIBC_TUNABLES=glibc.pthread.rseq=0."})
    boolean ownRegistration;

    @Override
    public Integer call() throws Exception {
        validate();
        PrintWriter out = spec.commandLine().getOut();
        if (ownRegistration && Rseq.glibcSize() > 0) {
            return rerunWithoutGlibcRegistration(out, spec.commandLine().getErr());
        }
        boolean live = !json && isTerminal();
        Thread main = Thread.currentThread();
        CountDownLatch finished = new CountDownLatch(1);
        Stop stop = new Stop();
        Screen screen = new Screen(out, live);
        // Ctrl-C, SIGTERM: the JVM runs its shutdown hooks, then halts. This one stops the loop, and where
        // the terminal shows a redrawn view (cursor hidden), waits for the loop to restore it.
        Thread hook = new Thread(() -> {
            stop.requested = true;
            RseqWatch w = stop.watch;
            if (w != null) {
                // Spinners back to sleep: the JVM's exit needs the CPUs they hold.
                w.quiesce();
            }
            LockSupport.unpark(main);
            if (screen.restoresTerminal()) {
                try {
                    finished.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }, "pkrseq-watch-stop");
        Runtime.getRuntime().addShutdownHook(hook);
        RseqWatch watch = null;
        try {
            watch = RseqWatch.start(threads, workload);
            stop.watch = watch;
            screen.begin();
            if (!json) {
                header(watch, live).forEach(screen::fixed);
            }
            long start = System.nanoTime();
            long intervalNanos = interval.toNanos();
            long endNanos = duration == null ? Long.MAX_VALUE : duration.toNanos();
            for (int k = 1; samples == null || k <= samples; k++) {
                // Times since start, saturated: no overflow whatever the interval, duration and count.
                long due = Math.min(k > Long.MAX_VALUE / intervalNanos ? Long.MAX_VALUE : k * intervalNanos, endNanos);
                for (long now = System.nanoTime() - start; !stop.requested && now < due; now = System.nanoTime() - start) {
                    LockSupport.parkNanos(due - now);
                }
                if (stop.requested) {
                    break;
                }
                long elapsed = System.nanoTime() - start;
                List<RseqWatch.ThreadSample> round = watch.sample();
                if (json) {
                    for (RseqWatch.ThreadSample s : round) {
                        Json.printLine(out, line(k, elapsed, s));
                    }
                } else {
                    screen.frame(frame(k, elapsed, round, live));
                }
                if (out.checkError() || due >= endNanos) {
                    break;
                }
            }
        } finally {
            // On a signal the JVM is about to halt: leave the workers as they are. Told to stop, each would
            // have to get a CPU again and leave its native loop, and the JVM's last safepoint would wait for
            // the ones caught in Java meanwhile; left alone, they hold up nothing, and the halt ends them.
            if (watch != null && !stop.requested) {
                watch.close();
            }
            screen.end();
            finished.countDown();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // A signal: the hook is running and returns now that the clean-up is done.
            }
        }
        return 0;
    }

    private static final class Stop {
        volatile boolean requested;
        volatile RseqWatch watch;
    }

    private void validate() {
        int max = RseqWatch.maxThreads();
        if (threads < 1 || threads > max) {
            throw new UsageException("--threads must be 1 to " + max + " here (" + RseqWatch.maxThreadsReason() + "), not "
                    + threads);
        }
        if (interval.compareTo(Duration.ofMillis(1)) < 0) {
            throw new UsageException("--interval must be at least 1ms, not " + Durations.format(interval));
        }
        if (duration != null && duration.isZero()) {
            throw new UsageException("--duration must be positive");
        }
        if (samples != null && samples < 1) {
            throw new UsageException("--samples must be at least 1, not " + samples);
        }
    }

    static boolean isTerminal() {
        Console c = System.console();
        return c != null && c.isTerminal() && !"dumb".equals(System.getenv("TERM"));
    }

    private List<String> header(RseqWatch w, boolean live) {
        List<String> lines = new ArrayList<>();
        lines.add("pkrseq watch: " + w.threads() + " " + (w.threads() == 1 ? "thread" : "threads") + ", workload "
                + w.workload() + ", a sample every " + Durations.format(interval)
                + (duration != null ? ", for " + Durations.format(duration) : "")
                + (samples != null ? ", " + samples + (samples == 1 ? " sample" : " samples") : "") + (live ? "; Ctrl-C ends" : ""));
        if (w.coversMmCid()) {
            lines.add("areas registered by " + w.owner() + " (" + w.coveredLength() + " bytes covered): mm_cid and node_id shown");
        } else {
            lines.add("areas registered by " + w.owner() + " (" + w.coveredLength() + " bytes covered): mm_cid and node_id"
                    + " not covered; --own-registration shows them");
        }
        lines.add("migrations: CPU changes between consecutive samples, a lower bound");
        return lines;
    }

    private static List<String> frame(int k, long elapsedNanos, List<RseqWatch.ThreadSample> round, boolean live) {
        List<String> lines = new ArrayList<>();
        lines.add("");
        lines.add(String.format(Locale.ROOT, "sample %d at %.1f s", k, elapsedNanos / 1e9));
        Table t = new Table("THREAD", "TID", "CPU", "MM_CID", "NODE", "MIGRATIONS", "SHARE OF SAMPLES PER CPU");
        for (RseqWatch.ThreadSample s : round) {
            t.row(s.index(), s.tid(), s.ended() == null ? s.cpuId() : "-", s.mmCid() == null ? "-" : s.mmCid(),
                    s.nodeId() == null ? "-" : s.nodeId(), s.migrations(),
                    s.ended() == null ? share(s) : "ended: " + s.ended());
        }
        java.io.StringWriter sw = new java.io.StringWriter();
        t.print(new PrintWriter(sw), "  ");
        sw.toString().lines().forEach(lines::add);
        return lines;
    }

    private static String share(RseqWatch.ThreadSample s) {
        StringBuilder sb = new StringBuilder();
        int shown = 0;
        for (Map.Entry<Integer, Long> e : s.cpuSamples().entrySet()) {
            if (shown == 8) {
                sb.append(" +").append(s.cpuSamples().size() - 8).append(" more");
                break;
            }
            sb.append(shown++ == 0 ? "" : " ").append("cpu").append(e.getKey()).append(' ')
                    .append(Math.round(100.0 * e.getValue() / s.samples())).append('%');
        }
        return sb.toString();
    }

    /**
     * One JSON line: a worker at a sample.
     *
     * @param sample the sample number, from 1
     * @param elapsedMillis time since the watch started
     * @param thread the worker's number
     * @param name the worker's thread name
     * @param tid its kernel task id
     * @param owner who registered its area
     * @param cpuId {@code cpu_id}, null once it ended
     * @param cpuIdStart {@code cpu_id_start}, null once it ended
     * @param mmCid {@code mm_cid}, null when not covered
     * @param nodeId {@code node_id}, null when not covered
     * @param migrations CPU changes between consecutive samples so far
     * @param cpuShare share of its samples on each CPU, by CPU number
     * @param ended null while it runs; why its area cannot be read otherwise
     */
    record Line(int sample, long elapsedMillis, int thread, String name, int tid, String owner, Integer cpuId,
            Integer cpuIdStart, Integer mmCid, Integer nodeId, long migrations, Map<String, Double> cpuShare,
            String ended) {
    }

    static Line line(int k, long elapsedNanos, RseqWatch.ThreadSample s) {
        Map<String, Double> share = new LinkedHashMap<>();
        s.cpuSamples().forEach((cpu, n) -> share.put(Integer.toString(cpu), Math.round(1000.0 * n / s.samples()) / 1000.0));
        boolean running = s.ended() == null;
        return new Line(k, TimeUnit.NANOSECONDS.toMillis(elapsedNanos), s.index(), s.name(), s.tid(), s.owner().toString(),
                running ? s.cpuId() : null, running ? s.cpuIdStart() : null, s.mmCid(), s.nodeId(), s.migrations(), share,
                s.ended());
    }

    /** Prints frames: redrawn in place on a terminal (cursor hidden meanwhile), appended otherwise. */
    private static final class Screen {
        private final PrintWriter out;
        private final boolean live;
        private int drawn;
        private volatile boolean begun;

        Screen(PrintWriter out, boolean live) {
            this.out = out;
            this.live = live;
        }

        /** Whether {@link #end()} has a terminal to restore: redrawing in place, begun. */
        boolean restoresTerminal() {
            return live && begun;
        }

        void begin() {
            begun = true;
            if (live) {
                out.print(ESC + "?25l");
                out.flush();
            }
        }

        void fixed(String line) {
            out.println(line);
            out.flush();
        }

        void frame(List<String> lines) {
            StringBuilder sb = new StringBuilder();
            if (live && drawn > 0) {
                sb.append(ESC).append(drawn).append('F');
            }
            for (String l : lines) {
                sb.append(l);
                if (live) {
                    sb.append(ESC).append('K');
                }
                sb.append(System.lineSeparator());
            }
            if (live) {
                sb.append(ESC).append('J');
            }
            out.print(sb);
            out.flush();
            drawn = lines.size();
        }

        void end() {
            if (live && begun) {
                out.print(ESC + "?25h");
                out.flush();
            }
        }
    }

    // ---- --own-registration beside glibc: the same command in a child JVM without glibc's registration ----

    private int rerunWithoutGlibcRegistration(PrintWriter out, PrintWriter err) throws IOException, InterruptedException {
        List<String> args = new ArrayList<>(List.of("watch", "--threads", Integer.toString(threads), "--workload",
                workload.toString(), "--interval", interval.toMillis() + "ms"));
        if (duration != null) {
            args.add("--duration");
            args.add(duration.toMillis() + "ms");
        }
        if (samples != null) {
            args.add("--samples");
            args.add(samples.toString());
        }
        if (json) {
            args.add("--json");
        }
        ChildJvm child = ChildJvm.of(Main.class).env("GLIBC_TUNABLES", RseqExperiments.tunablesWithGlibcRseqOff())
                .args(args.toArray(String[]::new));
        // The child's Console must see the terminal on stdin and stdout to redraw in place.
        boolean terminal = isTerminal();
        // Ctrl-C reaches the child too when both run in the terminal's foreground group; a signal sent to this
        // JVM alone reaches it as SIGTERM from the lab's shutdown hook, which waits for it to end. Either way
        // the child's own hook restores the terminal.
        try (ChildJvm.Running running = child.start(terminal)) {
            Process p = running.process();
            if (!terminal) {
                p.getOutputStream().close();
                AtomicBoolean ended = new AtomicBoolean();
                Thread copyErr = copy(p.getErrorStream(), err, err, p, false, ended);
                Thread copyOut = copy(p.getInputStream(), out, err, p, true, ended);
                copyOut.join();
                copyErr.join();
                if (ended.get()) {
                    // Ended for want of an output: Main reports that, not the child's SIGTERM status.
                    p.waitFor();
                    return 0;
                }
            }
            return p.waitFor();
        }
    }

    /**
     * Copies a child's lines. Once they cannot be written, drains what the child still sends, and for its
     * standard output ({@code endChild}) ends it: its samples would go nowhere.
     */
    private static Thread copy(InputStream from, PrintWriter to, PrintWriter err, Process child, boolean endChild,
            AtomicBoolean ended) {
        return Thread.ofPlatform().daemon(true).name("pkrseq-watch-copy").start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(from, StandardCharsets.UTF_8))) {
                boolean writable = true;
                String l;
                while ((l = r.readLine()) != null) {
                    if (writable) {
                        to.println(l);
                        to.flush();
                        if (to.checkError()) {
                            writable = false;
                            if (endChild) {
                                ended.set(true);
                                child.destroy();
                            }
                        }
                    }
                }
            } catch (IOException e) {
                // Once the child is ending, the JDK closes its pipes under the reader: nothing was lost.
                if (!ended.get() && child.isAlive()) {
                    err.println("pkrseq: watch: lost the child's output: " + e.getMessage());
                    err.flush();
                }
            }
        });
    }

    /** Accepts spin, yield and sleep in any case. */
    static final class WorkloadConverter implements CommandLine.ITypeConverter<RseqWatch.Workload> {
        @Override
        public RseqWatch.Workload convert(String value) {
            try {
                return RseqWatch.Workload.parse(value);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }
}
