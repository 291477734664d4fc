package dev.pkrseq.observe;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import dev.pkrseq.pkey.Pkeys;
import dev.pkrseq.pkey.PkeysUnavailableException;

/**
 * Retags a thread's static TLS with a protection key, in a child JVM ({@link TlsRetagChild}), and reads
 * back what the child saw. A JVM whose TCB page carries a key dies of any signal delivered to the thread,
 * of an implicit null check, and of other threads touching the page, so pkrseq never retags the user's
 * JVM: {@code pkrseq tls --retag-demo} and the {@code tls.*} retag experiments come here.
 *
 * <p>Each run costs one JVM start in interpreted mode ({@code -Xint}, so that no compiled loop takes a
 * safepoint poll's SIGSEGV while the pages are tagged) and a few smaps reads in the child.
 */
public final class TlsRetagProbe {
    private TlsRetagProbe() {
    }

    /**
     * One page of the retag, as the child saw it.
     *
     * @param address the page
     * @param role {@code range} or {@code dtv}
     * @param perms the protection the walk applied with the key, for example {@code rw-}
     * @param walk what the retag's pkey_mprotect did: {@code tagged}, {@code not-mapped (ENOMEM)}, ...
     * @param keyWhileTagged the page's key in smaps while tagged, or null when unmapped
     * @param restore what the restore's pkey_mprotect did, {@code -} when the page was not tagged
     * @param keyAfter the page's key in smaps after the restore, or null when unmapped
     * @param mapping the smaps mapping that held the page while tagged
     * @param mappingAfter the smaps mapping that holds the page after the restore
     * @param holds what the page holds: {@code TCB}, {@code static TLS (libc.so.6)}, {@code DTV}, ...
     */
    public record Page(long address, String role, String perms, String walk, Integer keyWhileTagged, String restore,
            Integer keyAfter, String mapping, String mappingAfter, String holds) {
    }

    /**
     * What the child reported.
     *
     * @param thread the retagged thread's name (the child's {@code main})
     * @param tid its task id
     * @param threadPointer its thread pointer
     * @param dtv its DTV
     * @param dtvPageApart whether the DTV page lies outside the exact range
     * @param key the key the child allocated
     * @param signalsBlocked whether the retag blocked the thread's asynchronous signals
     * @param pages the walk, the exact range first, then the DTV page
     * @param strayWhileTagged mappings that carried the key while tagged but hold pages outside the walk
     * @param strayAfter mappings that still carried the key after the restore
     * @param tcbRead the kernel's read of the TCB page on the retagged thread: {@code ok} or {@code EFAULT}
     * @param errnoWrite the kernel's write of the thread's errno (libc's static TLS) on the retagged thread
     * @param dtvRead the kernel's read of the DTV on the retagged thread, {@code -} when not tagged
     * @param otherTid a thread started before the key was allocated
     * @param otherRights its rights for the key
     * @param otherTcbRead the kernel's read of the retagged thread's TCB page on that other thread
     * @param denyRefused whether {@code setRights(NO_ACCESS)} was refused while tagged
     * @param denyMessage the refusal's message
     * @param scopedDenyRefused whether {@code withRights(NO_WRITE)} was refused while tagged
     * @param rightsAfterDeny the thread's rights for the key after the refusals
     * @param smapsUnchanged whether the mappings that hold the pages are as before the retag
     * @param smapsDifference the differences, {@code -} when none
     * @param dtvOnlyDeny with only the DTV page tagged, whether denying was {@code refused}, {@code allowed} or
     *     {@code skipped}
     * @param dtvOnlyMessage that refusal's message, or why skipped
     * @param left mappings that carried any non-zero key after the key was freed, {@code none} when none
     * @param allocatable keys pkey_alloc handed out after the key was freed (15 when all are free)
     * @param elapsed the child's wall time
     */
    public record Report(String thread, int tid, long threadPointer, long dtv, boolean dtvPageApart, int key, boolean signalsBlocked,
            List<Page> pages,
            List<String> strayWhileTagged, List<String> strayAfter, String tcbRead, String errnoWrite, String dtvRead,
            int otherTid, String otherRights, String otherTcbRead, boolean denyRefused, String denyMessage,
            boolean scopedDenyRefused, String rightsAfterDeny, boolean smapsUnchanged, String smapsDifference,
            String dtvOnlyDeny, String dtvOnlyMessage, String left, int allocatable, Duration elapsed) {

        /**
         * Whether smaps showed the key on exactly the walked pages while tagged, and on none after.
         *
         * @return true for the seed's promise
         */
        public boolean exact() {
            return !pages.isEmpty() && pages.stream().allMatch(p -> p.walk().equals("tagged")
                    && Integer.valueOf(key).equals(p.keyWhileTagged()) && Integer.valueOf(0).equals(p.keyAfter()))
                    && strayWhileTagged.isEmpty() && strayAfter.isEmpty();
        }

        /**
         * The DTV pages of the walk.
         *
         * @return the pages with role {@code dtv}
         */
        public List<Page> dtvPages() {
            return pages.stream().filter(p -> p.role().equals("dtv")).toList();
        }
    }

    /**
     * How a child that retagged its TLS and then met a signal ended.
     *
     * @param mode {@code signal}, {@code signal-blocked} or {@code null-check}
     * @param tagged the pages the child had tagged, as it reported before the signal
     * @param signalsBlocked whether the retag blocked asynchronous signals
     * @param survived what the child reported after the signal, or null when it did not live to report
     * @param pendingWhileTagged whether SIGUSR2 was pending while the pages were tagged; null when not reported
     * @param pendingAfter whether it was still pending after the restore; null when not reported
     * @param exitCode the child's exit status
     * @param exitSignal the signal that ended it, for example {@code SIGSEGV}, or null
     * @param crashLine the siginfo line of HotSpot's crash log, or null when HotSpot wrote none
     * @param elapsed the child's wall time
     */
    public record Ending(String mode, List<String> tagged, boolean signalsBlocked, String survived, Boolean pendingWhileTagged,
            Boolean pendingAfter, int exitCode, String exitSignal, String crashLine, Duration elapsed) {

        /**
         * Whether the child died by SIGSEGV after it had tagged its pages.
         *
         * @return true when it reported its pages, did not report surviving, and SIGSEGV ended it
         */
        public boolean killedBySigsegv() {
            return !tagged.isEmpty() && survived == null && "SIGSEGV".equals(exitSignal);
        }

        /**
         * The ending in words.
         *
         * @return for example {@code killed by SIGSEGV (exit 139), no crash log}
         */
        public String describe() {
            if (survived != null) {
                return "survived (" + survived + ")" + (pendingWhileTagged == null ? ""
                        : "; SIGUSR2 " + (pendingWhileTagged ? "stayed pending while tagged" : "was not pending while tagged")
                                + (Boolean.TRUE.equals(pendingAfter) ? " and is still pending" : " and was delivered after the restore"));
            }
            return (exitSignal == null ? "died, exit " + exitCode : "killed by " + exitSignal + " (exit " + exitCode + ")")
                    + (crashLine == null ? ", no crash log: HotSpot's handler never got to write one" : "; crash log: " + crashLine);
        }
    }

    /**
     * Retags in a child JVM and reports.
     *
     * @param timeout how long the child may take, more than 0 and at most {@link ChildJvm#MAX_TIMEOUT}
     * @return the child's findings
     * @throws IllegalArgumentException for a timeout out of that range, before anything starts
     * @throws PkeysUnavailableException where protection keys do not work
     * @throws IllegalStateException when the child died or reported incompletely; the message says how
     * @throws ChildJvm.ChildJvmException when the child cannot start or outlives the timeout
     */
    public static Report retag(Duration timeout) {
        ChildJvm.checkTimeout(timeout);
        requirePkeys();
        Path dir = CrashLog.directory("pkrseq-tls-");
        try {
            ChildJvm.Result r = child("retag", dir, timeout);
            if (r.exitCode() != 0 || r.values("done=").isEmpty()) {
                CrashLog c = CrashLog.of(r.exitCode(), dir);
                throw new IllegalStateException("the retag child JVM did not finish: " + c.exit()
                        + (c.logged() ? "; crash log: " + c.line() : "") + "; it reported: "
                        + tail(r.stdout()) + (r.stderr().isBlank() ? "" : "; stderr: " + tail(r.stderr())));
            }
            List<Page> pages = r.values("page=").stream().map(TlsRetagProbe::page).toList();
            return new Report(r.value("thread="), Integer.parseInt(r.value("tid=")), Long.decode(r.value("tp=")),
                    Long.decode(r.value("dtv=")), Boolean.parseBoolean(r.value("dtvApart=")), Integer.parseInt(r.value("key=")),
                    Boolean.parseBoolean(r.value("signalsBlocked=")), pages, r.values("stray="), r.values("afterStray="), r.value("probe.tcbRead="), r.value("probe.errnoWrite="),
                    r.value("probe.dtvRead="), Integer.parseInt(r.value("otherTid=")), r.value("probe.otherRights="),
                    r.value("probe.otherTcbRead="), r.value("deny=").equals("refused"), r.value("deny.message="),
                    r.value("deny.scoped=").equals("refused"), r.value("deny.rightsAfter="),
                    Boolean.parseBoolean(r.value("unchanged=")), r.value("unchangedDetail="), r.value("dtvOnly.deny="),
                    r.value("dtvOnly.message="), r.value("left="), Integer.parseInt(r.value("allocatable=")), r.elapsed());
        } finally {
            CrashLog.deleteTree(dir);
        }
    }

    /**
     * Retags in a child JVM and then meets a signal there: SIGUSR2 sent with tgkill ({@code signal}
     * without pkrseq's blocking, {@code signal-blocked} with it) or an implicit null check
     * ({@code null-check}).
     *
     * @param mode {@code signal}, {@code signal-blocked} or {@code null-check}
     * @param timeout how long the child may take, more than 0 and at most {@link ChildJvm#MAX_TIMEOUT}
     * @return how the child ended
     * @throws IllegalArgumentException for an unknown mode or a timeout out of range, before anything starts
     * @throws PkeysUnavailableException where protection keys do not work
     * @throws ChildJvm.ChildJvmException when the child cannot start, did not get as far as tagging, or
     *     outlives the timeout
     */
    public static Ending signal(String mode, Duration timeout) {
        if (!List.of("signal", "signal-blocked", "null-check").contains(mode)) {
            throw new IllegalArgumentException("unknown mode " + mode + ": signal, signal-blocked or null-check");
        }
        ChildJvm.checkTimeout(timeout);
        requirePkeys();
        Path dir = CrashLog.directory("pkrseq-tls-");
        try {
            ChildJvm.Result r = child(mode, dir, timeout);
            List<String> tagged = List.of(r.value("tagged=").split(","));
            CrashLog c = CrashLog.of(r.exitCode(), dir);
            String survived = r.values("survived=").stream().findFirst().orElse(null);
            Boolean pending = r.values("pending=").stream().findFirst().map(Boolean::parseBoolean).orElse(null);
            Boolean pendingAfter = r.values("pendingAfter=").stream().findFirst().map(Boolean::parseBoolean).orElse(null);
            return new Ending(mode, tagged, Boolean.parseBoolean(r.value("signalsBlocked=")), survived, pending, pendingAfter,
                    r.exitCode(), c.exitSignal(), c.line(), r.elapsed());
        } finally {
            CrashLog.deleteTree(dir);
        }
    }

    private static ChildJvm.Result child(String mode, Path dir, Duration timeout) {
        return ChildJvm.of(TlsRetagChild.class)
                .directory(dir)
                .jvmArgs(CrashLog.jvmArgs(dir))
                .jvmArgs("-Xint", "-XX:+UseSerialGC")
                .args(mode)
                .timeout(timeout)
                .run();
    }

    private static void requirePkeys() {
        if (!Pkeys.supported()) {
            throw new PkeysUnavailableException("cannot retag TLS with a protection key: "
                    + Pkeys.unavailableReason().orElse("protection keys are not available"));
        }
    }

    private static Page page(String line) {
        String[] f = line.split("\\|", 10);
        return new Page(Long.decode(f[0]), f[1], f[2], f[3], key(f[4]), f[5], key(f[6]), f[7], f[8], f[9]);
    }

    private static Integer key(String s) {
        return s.equals("-") ? null : Integer.valueOf(s);
    }

    private static String tail(String s) {
        String t = s.strip();
        return t.length() > 1500 ? "..." + t.substring(t.length() - 1500) : t;
    }
}
