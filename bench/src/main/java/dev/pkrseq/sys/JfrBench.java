package dev.pkrseq.sys;

import dev.pkrseq.bench.Bare;
import dev.pkrseq.bench.NanoBenchmark;
import jdk.jfr.Recording;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * What the native layer's JFR event costs: the same call, sched_getcpu (a critical downcall of a few
 * nanoseconds, so that any overhead shows), bare, through the layer with no recording, and through the
 * layer while a recording takes every event. Each benchmark runs in its own forks, so the recording
 * exists only in {@code layerCallRecording}'s JVMs.
 */
@State(Scope.Thread)
public class JfrBench extends NanoBenchmark {

    /** Baseline: the bare critical handle, nothing around it. */
    @Benchmark
    public int bareCall() throws Throwable {
        return (int) Bare.SCHED_GETCPU_CRITICAL.invokeExact();
    }

    /** The layer's call with no recording: the event is created and checked, never filled. */
    @Benchmark
    public int layerCallNoRecording() {
        return ThreadCalls.schedGetcpu();
    }

    /** The layer's call while a recording takes every {@code dev.pkrseq.NativeCall} event. */
    @Benchmark
    public int layerCallRecording(Recorded recorded) {
        return ThreadCalls.schedGetcpu();
    }

    /** A recording in memory that enables the native-call event with no threshold. */
    @State(Scope.Benchmark)
    public static class Recorded {
        private Recording recording;

        /** Starts the recording. */
        @Setup(Level.Trial)
        public void start() {
            recording = new Recording();
            recording.enable(NativeCallEvent.NAME).withoutThreshold();
            recording.setToDisk(false);
            recording.setMaxSize(64L << 20);
            recording.start();
        }

        /** Stops and discards it. */
        @TearDown(Level.Trial)
        public void stop() {
            recording.close();
        }
    }
}
