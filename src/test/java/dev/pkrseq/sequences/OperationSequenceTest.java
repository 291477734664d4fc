package dev.pkrseq.sequences;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import dev.pkrseq.observe.ChildJvm;
import dev.pkrseq.observe.CrashLog;
import dev.pkrseq.observe.RseqExperiments;
import dev.pkrseq.sequences.Step.Kind;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import org.junit.jupiter.api.Assertions;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.RandomDistribution;
import net.jqwik.api.Tag;
import net.jqwik.api.Tuple;
import net.jqwik.api.EdgeCasesMode;
import net.jqwik.api.statistics.Statistics;
import dev.pkrseq.pkey.Pkeys;
import dev.pkrseq.rseq.Rseq;

/**
 * Random sequences of API operations over 1 to 4 threads (jqwik): allocate, tag (one call or the page
 * walk), set rights (plain and scoped), read rights, probe, free, map and unmap, register and unregister
 * rseq, misuse. Every operation must succeed or fail exactly as the library documents
 * ({@link SequenceRunner} holds the model), and after each sequence nothing is left: no tagged page, every
 * key allocatable, PKRU as before, no rseq area registered.
 *
 * <p>The split: sequences run <b>in this JVM</b> when nothing in them can fault, because the library
 * never touches a tagged page from Java and probes through the kernel. Sequences with Java reads and
 * writes of the pages ({@link Kind#TOUCH}), which would kill the JVM if the model or the library were
 * wrong, and with pkrseq's own rseq registration, which needs {@code GLIBC_TUNABLES=glibc.pthread.rseq=0},
 * run in <b>child JVMs</b>, a batch per child; the child journals each sequence before it runs it, so a
 * crash is reported with the sequence that caused it.
 *
 * <p>The default build runs 200 sequences here and 2 batches of 50 in children; {@code mvn verify -Pstress}
 * adds 10,000 here and 100 batches of 100 in children.
 */
@Tag("pku")
class OperationSequenceTest {

    @Property(tries = 200, edgeCases = EdgeCasesMode.NONE)
    void inProcessSequencesBehaveAsDocumentedAndLeaveNothing(@ForAll("inProcess") Sequence s) throws Exception {
        runInProcess(s);
        covered();
    }

    @Property(tries = 10_000, edgeCases = EdgeCasesMode.NONE)
    @Tag("stress")
    void tenThousandInProcessSequencesBehaveAsDocumentedAndLeaveNothing(@ForAll("inProcess") Sequence s) throws Exception {
        runInProcess(s);
        covered();
    }

    private static void runInProcess(Sequence s) throws Exception {
        SequenceRunner r = new SequenceRunner(s, false, 120);
        r.run();
        for (String o : r.outcomes()) {
            Statistics.label("outcomes").collect(o);
        }
    }

    /**
     * The documented outcomes that every run of a few hundred sequences must have met, so that a
     * generator that stopped reaching them cannot pass unnoticed.
     */
    private static void covered() {
        List<String> always = new ArrayList<>(List.of("map: ok", "unmap: ok", "probe: ok",
                "free: KeyZeroException", "misuse: UntaggableSegmentException HEAP",
                "misuse: UntaggableSegmentException UNALIGNED", "misuse: UntaggableSegmentException PARTIAL_PAGES",
                "misuse: UntaggableSegmentException MALLOC", "misuse: UntaggableSegmentException ALIAS",
                "protect: UntaggableSegmentException ANONYMOUS", "walk: UntaggableSegmentException ANONYMOUS",
                "vthread: VirtualThreadException", "rights: KeyZeroException", "cpu: ok"));
        if (Pkeys.supported()) {
            always.addAll(List.of("alloc: ok", "get: ok", "free: ok", "free: KeyInUseException", "rights: ok", "scoped: ok", "protect: ok",
                    "protect: NativeException ENOMEM", "walk: TAGGED", "walk: NOT_MAPPED+TAGGED", "rights: KeyClosedException",
                    "protect: UntaggableSegmentException CLOSED",
                    "alloc: NativeException ENOSPC"));
        } else {
            always.addAll(List.of("alloc: PkeysUnavailableException", "rights: PkeysUnavailableException",
                    "protect: NativeException EINVAL", "walk: FAILED"));
        }
        if (Rseq.glibcSize() > 0) {
            always.add("register: RseqException EINVAL");
            always.add("unregister: ok");
        }
        Statistics.label("outcomes").coverage(c -> {
            for (String o : always) {
                c.check(o).count(n -> n > 0);
            }
        });
    }

    @Property(tries = 2, edgeCases = EdgeCasesMode.NONE)
    void forkedSequencesWithJavaAccessAndOwnRseqBehaveAsDocumented(@ForAll("batchOf50") List<Sequence> batch) {
        runForked(batch);
        coveredForked();
    }

    @Property(tries = 100, edgeCases = EdgeCasesMode.NONE)
    @Tag("stress")
    void tenThousandForkedSequencesBehaveAsDocumented(@ForAll("batchOf100") List<Sequence> batch) {
        runForked(batch);
        coveredForked();
    }

    /** The outcomes only a forked run reaches: Java access, and pkrseq's own rseq registration. */
    private static void coveredForked() {
        List<String> always = new ArrayList<>(List.of("map: ok", "probe: ok", "register: ok", "unregister: ok", "cpu: ok",
                "cpu: IllegalStateException"));
        if (Pkeys.supported()) {
            always.addAll(List.of("touch: ok", "protect: ok", "rights: ok"));
        }
        Statistics.label("forked outcomes").coverage(c -> {
            for (String o : always) {
                c.check(o).count(n -> n > 0);
            }
        });
    }

    @Provide
    Arbitrary<Sequence> inProcess() {
        return sequences(false);
    }

    @Provide
    Arbitrary<List<Sequence>> batchOf50() {
        return sequences(true).list().ofSize(50);
    }

    @Provide
    Arbitrary<List<Sequence>> batchOf100() {
        return sequences(true).list().ofSize(100);
    }

    /** Sequences of 1 to 40 steps over 1 to 4 threads. */
    static Arbitrary<Sequence> sequences(boolean forked) {
        Arbitrary<Kind> kind = Arbitraries.frequency(
                Tuple.of(3, Kind.ALLOC), Tuple.of(2, Kind.FREE), Tuple.of(3, Kind.RIGHTS), Tuple.of(1, Kind.SCOPED),
                Tuple.of(1, Kind.GET), Tuple.of(3, Kind.MAP), Tuple.of(2, Kind.UNMAP), Tuple.of(3, Kind.PROTECT),
                Tuple.of(2, Kind.WALK), Tuple.of(2, Kind.MISUSE), Tuple.of(3, Kind.PROBE), Tuple.of(forked ? 3 : 0, Kind.TOUCH),
                Tuple.of(2, Kind.REGISTER), Tuple.of(1, Kind.UNREGISTER), Tuple.of(1, Kind.CPU), Tuple.of(1, Kind.VTHREAD))
                .filter(k -> forked || k != Kind.TOUCH);
        Arbitrary<Step> step = Combinators.combine(Arbitraries.integers().between(0, 3), kind,
                Arbitraries.integers().between(-1, 5), Arbitraries.integers().between(0, 5),
                Arbitraries.integers().between(0, 7), Arbitraries.of("read-write", "no-write", "no-access"),
                Arbitraries.of("rw", "rw!", "rw!", "r", "r!"), Arbitraries.of("heap", "unaligned", "partial", "malloc", "alias"))
                .as((t, k, key, region, page, rights, prot, misuse) -> Step.of(t, k, key, region, page, switch (k) {
                    case ALLOC, RIGHTS, SCOPED -> rights;
                    case MAP -> region % 2 == 0 ? "raw" : "arena";
                    case PROTECT, WALK -> prot;
                    case MISUSE -> misuse;
                    default -> "";
                }));
        Arbitrary<Boolean> endRegistered = forked ? Arbitraries.of(false, false, false, true) : Arbitraries.just(false);
        Arbitrary<Integer> reserve = Arbitraries.of(0, 0, 0, 13);
        return Combinators.combine(Arbitraries.integers().between(1, 4), endRegistered, reserve,
                step.list().ofMinSize(1).ofMaxSize(40).withSizeDistribution(RandomDistribution.uniform()))
                .as((n, end, reserved, steps) -> new Sequence(n, end, reserved, steps.stream()
                        .map(x -> Step.of(x.thread() % n, x.kind(), x.key(), x.region(), x.page(), x.arg())).toList()));
    }

    /**
     * Runs a batch in a child JVM with glibc's rseq registration off; reports a failing sequence, or the
     * sequence the child was running when it died.
     */
    static void runForked(List<Sequence> batch) {
        runForked(batch, new String[0]);
    }

    @Example
    void aChildThatDiesIsReportedWithTheSequenceItWasRunning() {
        List<Sequence> batch = List.of(Sequence.parse("threads=1; t0 map raw 1; t0 probe r0 p0"),
                Sequence.parse("threads=2; t1 map arena 2; t0 cpu"), Sequence.parse("threads=1; t0 cpu"));
        AssertionError e = Assertions.assertThrows(AssertionError.class, () -> runForked(batch, new String[] {"1"}));
        String m = e.getMessage();
        Assertions.assertTrue(m.startsWith("the child JVM died (exit 1) while running sequence 1 of 3: "
                + "threads=2; t1 map arena 2; t0 cpu\ncrash log: "), m);
        Assertions.assertTrue(m.contains("SIGSEGV"), m);
    }

    private static void runForked(List<Sequence> batch, String[] crashAt) {
        Path dir = CrashLog.directory("pkrseq-sequences-");
        try {
            Path input = dir.resolve("sequences.txt");
            Files.write(input, batch.stream().map(Sequence::toString).toList(), StandardCharsets.UTF_8);
            ChildJvm.Result r = ChildJvm.of(SequenceChild.class).directory(dir)
                    .env("GLIBC_TUNABLES", RseqExperiments.tunablesWithGlibcRseqOff())
                    .jvmArgs(CrashLog.jvmArgs(dir))
                    .timeout(Duration.ofMinutes(30)).args(input.toString()).args(crashAt).run();
            List<String> out = r.stdout().lines().toList();
            out.stream().filter(l -> l.startsWith("outcome ")).forEach(l -> Statistics.label("forked outcomes")
                    .collect(l.substring("outcome ".length())));
            String fail = out.stream().filter(l -> l.startsWith("fail ")).findFirst().orElse(null);
            if (fail != null) {
                int i = Integer.parseInt(fail.split(" ")[1]);
                throw new AssertionError("forked sequence " + i + " of " + batch.size() + " failed: " + journaled(out, i)
                        + "\n" + fail.substring(fail.indexOf(' ', 5) + 1));
            }
            if (r.exitCode() != 0 || out.stream().noneMatch(l -> l.equals("done " + batch.size()))) {
                String last = out.stream().filter(l -> l.startsWith("run ")).reduce((a, b) -> b).orElse("run -1 (none)");
                int i = Integer.parseInt(last.split(" ")[1]);
                throw new AssertionError("the child JVM died (exit " + r.exitCode() + ") while running sequence " + i + " of "
                        + batch.size() + ": " + journaled(out, i) + crash(dir) + "\nstderr: " + tail(r.stderr()));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            CrashLog.deleteTree(dir);
        }
    }

    private static String journaled(List<String> out, int i) {
        String prefix = "run " + i + " ";
        return out.stream().filter(l -> l.startsWith(prefix)).map(l -> l.substring(prefix.length())).findFirst()
                .orElse("(not journaled)");
    }

    private static String crash(Path dir) throws IOException {
        Optional<Path> log = CrashLog.find(dir);
        if (log.isEmpty()) {
            return "\n(no crash log)";
        }
        try (Stream<String> lines = Files.lines(log.get(), StandardCharsets.ISO_8859_1)) {
            return "\ncrash log: " + lines.filter(l -> l.startsWith("#  ") || l.startsWith("siginfo:")).limit(12)
                    .collect(Collectors.joining("\n"));
        }
    }

    private static String tail(String s) {
        return s.length() <= 2000 ? s : "..." + s.substring(s.length() - 2000);
    }
}
