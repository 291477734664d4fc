package dev.pkrseq.observe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

import dev.pkrseq.testing.Features;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A child JVM, and the protection-key fault probe built on it, under misuse: a missing java binary, a
 * class path that does not exist, a child that hangs. Each gives a clear error, and leaves no temporary
 * file and no process behind. The misuses run inside a child JVM of their own ({@link ChildJvmMisuseChild})
 * with its own {@code java.io.tmpdir}: any file there afterwards is a leak, whatever else runs on this
 * machine, and that child counts its own live descendants.
 */
@Tag("pku")
class ChildJvmMisuseTest {
    private static final Map<String, ChildJvm.Result> RUNS = new HashMap<>();
    private static final Map<String, Path> DIRS = new HashMap<>();

    /** Runs the scenarios of one group in one child JVM, once. */
    private static synchronized ChildJvm.Result run(String group, String... scenarios) {
        return RUNS.computeIfAbsent(group, g -> {
            try {
                Path base = Files.createTempDirectory("pkrseq-misuse-test-");
                DIRS.put(g, base);
                Path tmp = Files.createDirectory(base.resolve("tmp"));
                Path fixtures = Files.createDirectory(base.resolve("fixtures"));
                String[] args = new String[scenarios.length + 1];
                args[0] = fixtures.toString();
                System.arraycopy(scenarios, 0, args, 1, scenarios.length);
                ChildJvm.Result r = ChildJvm.of(ChildJvmMisuseChild.class).jvmArgs("-Djava.io.tmpdir=" + tmp)
                        .timeout(Duration.ofSeconds(600)).args(args).run();
                assertEquals(0, r.exitCode(), r.stderr() + r.stdout());
                assertEquals(tmp.toString(), r.value("tmp="));
                return r;
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        });
    }

    private static ChildJvm.Result plain() {
        return run("plain", "missing-java", "missing-classpath", "hang-jvm", "hang-script");
    }

    private static ChildJvm.Result fault() {
        return run("fault", "fault-missing-java", "fault-missing-classpath", "fault-hang");
    }

    @AfterAll
    static void removeDirectories() {
        for (Path d : DIRS.values()) {
            CrashLog.deleteTree(d);
        }
        // Nothing this class started is still running.
        assertEquals(0, ProcessHandle.current().descendants().filter(p -> p.info().commandLine().orElse("")
                .contains("ChildJvmMisuseChild")).count());
    }

    /** The scenario's error, and that it left no file and no process. */
    private static String error(ChildJvm.Result r, String scenario) {
        assertEquals("0", r.value(scenario + ".descendants="), scenario + ": a process was left behind");
        assertEquals("none", r.value(scenario + ".leftover="), scenario + ": temporary files were left behind");
        return r.value(scenario + ".error=");
    }

    @Test
    void missingJavaBinaryGivesAClearErrorAndLeavesNothing() {
        String e = error(plain(), "missing-java");
        assertEquals("ChildJvmException|cannot start a child JVM: /nonexistent-pkrseq-jdk/bin/java is not an executable"
                + " java binary", e);
    }

    @Test
    void classPathThatDoesNotExistGivesAClearErrorAndLeavesNothing() {
        String e = error(plain(), "missing-classpath");
        assertEquals("ChildJvmException|child JVM could not load dev.pkrseq.observe.ChildJvmMisuseChild$Hello from class path"
                + " '/nonexistent-pkrseq/classes:/nonexistent-pkrseq/lib.jar' (entries not found:"
                + " /nonexistent-pkrseq/classes, /nonexistent-pkrseq/lib.jar)", e);
    }

    @Test
    void hangingChildJvmIsKilledAtTheTimeoutAndLeavesNothing() {
        String e = error(plain(), "hang-jvm");
        assertEquals("ChildJvmException|child JVM dev.pkrseq.observe.ChildJvmMisuseChild$Hello did not finish within 2 s"
                + " and was killed", e);
    }

    @Test
    void hangingChildsOwnChildrenAreKilledToo() {
        ChildJvm.Result r = plain();
        String e = error(r, "hang-script");
        assertTrue(e.startsWith("ChildJvmException|child JVM dev.pkrseq.observe.ChildJvmMisuseChild$Hello did not finish"
                + " within 2 s and was killed"), e);
        assertEquals("2 started, alive none", r.value("hang-script.grandchildrenAlive="));
    }

    @Test
    void faultProbeWithAMissingJavaBinaryGivesAClearErrorAndLeavesNothing() {
        Features.assumePkeys();
        String e = error(fault(), "fault-missing-java");
        assertEquals("ChildJvmException|cannot start a child JVM: /nonexistent-pkrseq-jdk/bin/java is not an executable"
                + " java binary", e);
    }

    @Test
    void faultProbeWithAClassPathThatDoesNotExistGivesAClearErrorAndLeavesNothing() {
        Features.assumePkeys();
        String e = error(fault(), "fault-missing-classpath");
        assertTrue(e.startsWith("ChildJvmException|child JVM could not load dev.pkrseq.observe.PkeyFaultProbe$Child from"
                + " class path '/nonexistent-pkrseq/classes:/nonexistent-pkrseq/lib.jar'"), e);
    }

    @Test
    void hangingFaultProbeChildIsKilledAtTheTimeoutAndItsFilesRemoved() {
        Features.assumePkeys();
        // The paused JVM wrote vm.paused.<pid> into the probe's directory; that directory must be gone too.
        String e = error(fault(), "fault-hang");
        assertEquals("ChildJvmException|child JVM dev.pkrseq.observe.PkeyFaultProbe$Child did not finish within 5 s and was"
                + " killed", e);
    }

    @Test
    void timeoutOutOfRangeIsRefusedBeforeAnythingStarts() {
        for (Duration bad : new Duration[] {Duration.ZERO, Duration.ofSeconds(-1), Duration.ofHours(25),
            Duration.ofSeconds(Long.MAX_VALUE)}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> ChildJvm.of(ChildJvmMisuseChild.Hello.class).timeout(bad));
            assertEquals("a child JVM's timeout must be more than 0 and at most 24 h, not " + bad, e.getMessage());
            // The probes check theirs before they create a directory or look for protection keys.
            assertThrows(IllegalArgumentException.class, () -> PkeyFaultProbe.run(bad));
            assertThrows(IllegalArgumentException.class, () -> TlsRetagProbe.retag(bad));
        }
        assertThrows(NullPointerException.class, () -> ChildJvm.of(ChildJvmMisuseChild.Hello.class).timeout(null));
    }
}
