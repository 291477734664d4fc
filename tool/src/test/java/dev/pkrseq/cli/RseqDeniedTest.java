package dev.pkrseq.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pkrseq.lab.ChildJvm;
import dev.pkrseq.testing.Features;
import dev.pkrseq.testing.JvmNotes;
import org.junit.jupiter.api.Test;

/**
 * pkrseq where a real seccomp filter denies the rseq system call, as a container profile may: glibc's
 * own registration fails from the first thread on, and every report names what happened by its errno. A
 * denial (EPERM, EACCES) is never reported as "no rseq in the kernel", and that report still comes for
 * ENOSYS. Each group of commands runs in child JVMs of a {@link DenyRseq} JVM, which installed the filter.
 */
class RseqDeniedTest {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final String NO_RSEQ_IN_KERNEL = "this kernel has no rseq system call";
    private static final Map<String, ChildJvm.Result> RUNS = new HashMap<>();

    /** One command's end. */
    record Command(int exit, String out, String err) {
        /** The report of a command that must have exited 0. */
        JsonNode json() throws Exception {
            assertEquals(0, exit, toString());
            return MAPPER.readTree(out);
        }

        @Override
        public String toString() {
            return "exit " + exit + "; stderr: " + err + "; stdout: " + out;
        }
    }

    private static final String[] EPERM_COMMANDS = {"rseq", "--json", ";", "rseq", "--register", ";", "percpu",
        "--threads", "2", "--adds", "1000", ";", "watch", "--json", "--samples", "1", "--threads", "1", "--interval", "10ms",
        ";", "probe", "--json", "--only", "rseq"};
    private static final String[] SHORT_COMMANDS = {"rseq", "--json", ";", "percpu", "--threads", "2", "--adds", "1000"};

    private static synchronized Command run(String errno, int index) {
        ChildJvm.Result r = RUNS.computeIfAbsent(errno, e -> {
            String[] commands = e.equals("EPERM") ? EPERM_COMMANDS : SHORT_COMMANDS;
            String[] args = new String[commands.length + 1];
            args[0] = e;
            System.arraycopy(commands, 0, args, 1, commands.length);
            ChildJvm.Result res = ChildJvm.of(DenyRseq.class).timeout(Duration.ofMinutes(10)).args(args).run();
            assertEquals(0, res.exitCode(), res.stderr() + res.stdout());
            return res;
        });
        Base64.Decoder d = Base64.getDecoder();
        return new Command(Integer.parseInt(r.value("cmd." + index + ".exit=")),
                new String(d.decode(r.value("cmd." + index + ".out=")), StandardCharsets.UTF_8),
                JvmNotes.withoutJvmNotes(new String(d.decode(r.value("cmd." + index + ".err=")), StandardCharsets.UTF_8)));
    }

    private static void oneLineNaming(Command c, String prefix, String errno) {
        assertEquals(1, c.exit(), c.toString());
        assertEquals(1, c.err().lines().count(), c.toString());
        assertTrue(c.err().startsWith(prefix), c.toString());
        assertTrue(c.err().contains(errno), c.toString());
        assertFalse(c.err().contains(NO_RSEQ_IN_KERNEL), c.toString());
        assertFalse(c.err().contains("Exception"), c.toString());
    }

    @Test
    void rseqReportUnderAnEpermFilterSaysDeniedAndThatGlibcsRegistrationFailed() throws Exception {
        Features.assumeX86_64();
        JsonNode j = run("EPERM", 0).json();
        assertEquals("none", j.get("owner").asText());
        assertTrue(j.get("kernelSupportsRseq").isNull(), j.toString());
        assertTrue(j.get("reason").asText().startsWith("rseq is denied here: rseq(NULL, 0, 0, 0) failed with EPERM"),
                j.toString());
        assertTrue(j.get("reason").asText().contains("seccomp filter"), j.toString());
        String note = j.get("thread").get("reason").asText();
        assertTrue(note.contains("glibc did not register rseq (__rseq_size is 0): its registration failed: rseq is denied"
                + " here"), note);
        assertFalse(note.contains(NO_RSEQ_IN_KERNEL), note);
    }

    @Test
    void registeringUnderAnEpermFilterNamesTheDenialNotASignatureMismatch() {
        Features.assumeX86_64();
        Command c = run("EPERM", 1);
        oneLineNaming(c, "pkrseq: rseq: rseq(0x", "failed: EPERM (Operation not permitted)");
        assertTrue(c.err().contains("denies rseq to this process"), c.toString());
        assertFalse(c.err().contains("already registered"), c.toString());
    }

    @Test
    void perCpuCounterUnderAnEpermFilterIsRefusedNamingTheDenial() {
        Features.assumeX86_64();
        oneLineNaming(run("EPERM", 2), "pkrseq: percpu: rseq critical sections: rseq is unavailable: rseq is denied here:"
                + " rseq(NULL, 0, 0, 0) failed with EPERM", "EPERM");
    }

    @Test
    void watchUnderAnEpermFilterFailsNamingTheDenial() {
        Features.assumeX86_64();
        oneLineNaming(run("EPERM", 3), "pkrseq: watch: worker 0 could not get a registered rseq area: rseq(0x", "EPERM");
    }

    @Test
    void probeUnderAnEpermFilterSkipsTheRseqExperimentsNamingTheDenial() throws Exception {
        Features.assumeX86_64();
        JsonNode j = run("EPERM", 4).json();
        assertTrue(j.get("rseq").get("reason").asText().contains("EPERM"), j.get("rseq").toString());
        assertTrue(j.get("experiments").size() >= 5, j.toString());
        for (JsonNode e : j.get("experiments")) {
            assertEquals("skipped", e.get("outcome").asText(), e.toString());
            assertTrue(e.get("detail").asText().contains("rseq is denied here"), e.toString());
            assertFalse(e.get("detail").asText().contains(NO_RSEQ_IN_KERNEL), e.toString());
        }
    }

    @Test
    void anyOtherErrnoIsReportedAsADenialByName() throws Exception {
        Features.assumeX86_64();
        JsonNode j = run("EACCES", 0).json();
        assertTrue(j.get("kernelSupportsRseq").isNull(), j.toString());
        assertTrue(j.get("reason").asText().contains("failed with EACCES (Permission denied)"), j.toString());
        oneLineNaming(run("EACCES", 1), "pkrseq: percpu: rseq critical sections: rseq is unavailable: rseq is denied here:",
                "EACCES");
    }

    @Test
    void enosysIsStillReportedAsNoRseqInTheKernel() throws Exception {
        Features.assumeX86_64();
        JsonNode j = run("ENOSYS", 0).json();
        assertFalse(j.get("kernelSupportsRseq").asBoolean(true), j.toString());
        assertTrue(j.get("reason").asText().contains(NO_RSEQ_IN_KERNEL), j.toString());
        Command c = run("ENOSYS", 1);
        assertEquals(1, c.exit(), c.toString());
        assertTrue(c.err().startsWith("pkrseq: percpu: rseq critical sections: rseq is unavailable: not supported: " + NO_RSEQ_IN_KERNEL),
                c.toString());
    }
}
