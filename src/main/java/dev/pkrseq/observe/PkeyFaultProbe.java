package dev.pkrseq.observe;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.UnaryOperator;

import dev.pkrseq.pkey.Pages;
import dev.pkrseq.pkey.Pkeys;
import dev.pkrseq.pkey.PkeysUnavailableException;
import dev.pkrseq.pkey.ProtectionKey;
import dev.pkrseq.pkey.Rights;
import dev.pkrseq.sys.Sys;

/**
 * A real protection-key fault, taken by a child JVM so that this one survives.
 *
 * <p>The child allocates a key, tags a fresh page with it, reports the page's address on standard
 * output, denies itself access and reads the page from Java. The kernel raises SIGSEGV with si_code
 * SEGV_PKUERR (4); HotSpot's handler finds no use for it, writes its crash log and aborts. The parent
 * reads the crash log (written to a temporary directory with {@code -XX:ErrorFile}; no core dump) for
 * the signal, si_code and si_addr, and removes every file the child left.
 *
 * <p>Costs one JVM start, and the time HotSpot takes to write its crash log.
 */
public final class PkeyFaultProbe {
    /** SEGV_PKUERR: the si_code of a fault caused by protection-key rights. */
    public static final int SEGV_PKUERR = 4;

    private PkeyFaultProbe() {
    }

    /**
     * What happened to the child.
     *
     * @param exitCode the child's exit status (128 + n when signal n ended it)
     * @param exitSignal the signal that ended the child, for example "SIGABRT" (HotSpot aborts after its
     *     crash log), or null when it exited normally
     * @param page the address of the page the child touched, as it reported before touching
     * @param key the key that tagged the page
     * @param signal the fault signal from the crash log's siginfo line, for example "SIGSEGV"; null
     *     without a crash log
     * @param siCode si_code from the crash log; null without a crash log
     * @param siCodeName si_code by name, for example "SEGV_PKUERR" (HotSpot's crash log says "unknown");
     *     null without a crash log
     * @param siAddr si_addr from the crash log; null without a crash log
     * @param survived the child read the page and lived: the fault did not happen
     * @param crashLine the crash log's siginfo line, as HotSpot wrote it; null without a crash log
     * @param elapsed wall time of the child
     */
    public record Result(int exitCode, String exitSignal, Long page, Integer key, String signal, Integer siCode,
            String siCodeName, Long siAddr, boolean survived, String crashLine, Duration elapsed) {

        /**
         * Whether si_addr is the page the child reported.
         *
         * @return true when both are known and equal
         */
        public boolean addressMatches() {
            return page != null && page.equals(siAddr);
        }

        /**
         * Whether the child died of exactly a protection-key fault at its page: SIGSEGV, si_code 4, si_addr
         * the page.
         *
         * @return true for the documented outcome
         */
        public boolean pkuFault() {
            return !survived && "SIGSEGV".equals(signal) && siCode != null && siCode == SEGV_PKUERR && addressMatches();
        }

        /**
         * The outcome in one line.
         *
         * @return for example {@code SIGSEGV, si_code 4 (SEGV_PKUERR), si_addr 0x7f.. = page; exit 134 (SIGABRT)}
         */
        public String describe() {
            if (survived) {
                return "the child read the page and survived (exit " + exitCode + ")";
            }
            String exit = "exit " + exitCode + (exitSignal == null ? "" : " (" + exitSignal + ")");
            if (signal == null) {
                return "no crash log; " + exit;
            }
            return String.format("%s, si_code %d (%s), si_addr 0x%x %s page 0x%x; %s", signal, siCode, siCodeName,
                    siAddr == null ? 0 : siAddr, addressMatches() ? "=" : "!=", page == null ? 0 : page, exit);
        }
    }

    /**
     * Runs the child and reports.
     *
     * @param timeout how long the child may take (JVM start, fault, crash log)
     * @return the outcome
     * @throws PkeysUnavailableException where protection keys do not work
     * @throws ChildJvm.ChildJvmException when the child cannot start, does not report its page, or
     *     outlives the timeout
     */
    public static Result run(Duration timeout) {
        return run(timeout, UnaryOperator.identity());
    }

    /**
     * Runs the child with its launch adjusted, and reports. Whatever goes wrong with the launch, the
     * child's process and its descendants are gone and the temporary directory (crash log, files the
     * child wrote in its working directory) is removed before this returns or throws.
     *
     * @param timeout how long the child may take (JVM start, fault, crash log), more than 0 and at most
     *     {@link ChildJvm#MAX_TIMEOUT}
     * @param launch adjusts the child before it starts, for example
     *     {@code c -> c.java(Path.of("/opt/jdk-25/bin/java"))}, another class path, or more JVM options
     * @return the outcome
     * @throws IllegalArgumentException for a timeout out of range, before anything starts
     * @throws PkeysUnavailableException where protection keys do not work
     * @throws ChildJvm.ChildJvmException when the java binary is missing, the class path does not hold the
     *     child's class, the child does not report its page, or it outlives the timeout (it is killed)
     */
    public static Result run(Duration timeout, UnaryOperator<ChildJvm> launch) {
        ChildJvm.checkTimeout(timeout);
        if (!Pkeys.supported()) {
            throw new PkeysUnavailableException("cannot take a protection-key fault: "
                    + Pkeys.unavailableReason().orElse("protection keys are not available"));
        }
        Path dir = CrashLog.directory("pkrseq-fault-");
        try {
            ChildJvm.Result r = launch.apply(ChildJvm.of(Child.class)
                    .directory(dir)
                    .jvmArgs(CrashLog.jvmArgs(dir))
                    .jvmArgs("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss1m")
                    .timeout(timeout))
                    .run();
            long page = Long.decode(r.value("page="));
            int key = Integer.parseInt(r.value("key="));
            boolean survived = !r.values("survived=").isEmpty();
            CrashLog c = CrashLog.of(r.exitCode(), dir);
            return new Result(r.exitCode(), c.exitSignal(), page, key, c.signal(), c.siCode(), c.siCodeName(), c.siAddr(),
                    survived, c.line(), r.elapsed());
        } finally {
            CrashLog.deleteTree(dir);
        }
    }

    /**
     * The child JVM's program: it takes the fault. Not for calling in a JVM that should live.
     */
    public static final class Child {
        private Child() {
        }

        /**
         * Allocates a key, tags a page, prints {@code page=} and {@code key=}, denies access and reads the
         * page from Java. Prints {@code survived=} if the read returns.
         *
         * @param args ignored
         */
        public static void main(String[] args) {
            ProtectionKey key = ProtectionKey.allocate(Rights.READ_WRITE);
            MemorySegment page = Pages.allocate(Arena.global(), 1);
            page.set(JAVA_BYTE, 0, (byte) 42);
            key.protect(page, Sys.PROT_READ | Sys.PROT_WRITE);
            System.out.println("page=0x" + Long.toHexString(page.address()));
            System.out.println("key=" + key.number());
            System.out.flush();
            key.setRights(Rights.NO_ACCESS);
            byte b = page.get(JAVA_BYTE, 0);
            key.setRights(Rights.READ_WRITE);
            System.out.println("survived=" + b);
            System.out.flush();
        }
    }
}
