package dev.pkrseq.bench;

import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The run settings every pkrseq benchmark shares: average time per call in nanoseconds, three forks
 * with native access enabled (the library and {@link Bare} make downcalls), five warmup and five
 * measured iterations of one second. A benchmark class extends it and keeps its own {@code @State}, whose
 * scope is part of what it measures.
 *
 * <p>JMH's annotations are {@code @Inherited}, and its generator reads them from superclasses. A method
 * or subclass that needs other settings annotates itself, which takes precedence; JMH command-line
 * options ({@code bench/run --quick}) override both.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 3, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
public abstract class NanoBenchmark {
    /** For subclasses only. */
    protected NanoBenchmark() {
    }
}
