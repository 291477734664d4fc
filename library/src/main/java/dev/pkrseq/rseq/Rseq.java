package dev.pkrseq.rseq;

import dev.pkrseq.VirtualThreadException;
import dev.pkrseq.RseqAreaGoneException;
import dev.pkrseq.rseq.internal.RseqRefusals;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;

import dev.pkrseq.sys.LoaderCalls;
import dev.pkrseq.sys.MemoryCalls;
import dev.pkrseq.sys.RseqCalls;
import dev.pkrseq.sys.ThreadCalls;
import dev.pkrseq.sys.Syscall;

/**
 * What the kernel and the C library say about rseq, and the calling thread's area.
 *
 * <p>glibc 2.35+ registers every thread it creates and exports {@code __rseq_offset} (from the thread
 * pointer to the area), {@code __rseq_size} (0 when it did not register) and {@code __rseq_flags}.
 * The kernel passes {@code AT_RSEQ_FEATURE_SIZE} and {@code AT_RSEQ_ALIGN} in the auxiliary vector
 * from Linux 6.3.
 */
public final class Rseq {
    private static final OptionalLong GLIBC_OFFSET = LoaderCalls.longSymbol("__rseq_offset");
    private static final int GLIBC_SIZE = LoaderCalls.intSymbol("__rseq_size").orElse(0);
    private static final OptionalInt FEATURE_SIZE = auxv(LoaderCalls.AT_RSEQ_FEATURE_SIZE);
    private static final OptionalInt ALIGN = auxv(LoaderCalls.AT_RSEQ_ALIGN);
    private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();
    // The calling platform thread's handle, glibc's or pkrseq's; also pkrseq's per-thread registration state.
    private static final ThreadLocal<RseqArea> AREA = new ThreadLocal<>();

    static {
        RseqRefusals.install(new RseqSyscall());
    }

    private Rseq() {
    }

    /** Memory for the rare registration beside glibc's, allocated on first use rather than when Rseq loads. */
    private static final class Spare {
        // Named in registration attempts the kernel must refuse; never unmapped, so even an acceptance is safe.
        static final MemorySegment MEMORY = Arena.global().allocate(Math.max(256, registrationLength()), registrationAlign());

        private Spare() {
        }
    }

    /**
     * glibc's {@code __rseq_offset}.
     *
     * @return the offset from the thread pointer to each thread's area, or empty when the C library
     *     does not export it (glibc before 2.35, musl)
     */
    public static OptionalLong glibcOffset() {
        return GLIBC_OFFSET;
    }

    /**
     * glibc's {@code __rseq_size}.
     *
     * @return the registered size glibc advertises: 0 when it registers nothing (for example under
     *     {@code GLIBC_TUNABLES=glibc.pthread.rseq=0}); 20 or 32 for the original ABI
     */
    public static int glibcSize() {
        return GLIBC_SIZE;
    }

    /**
     * {@code AT_RSEQ_FEATURE_SIZE}.
     *
     * @return how much of struct rseq this kernel fills in, or empty before Linux 6.3
     */
    public static OptionalInt featureSize() {
        return FEATURE_SIZE;
    }

    /**
     * {@code AT_RSEQ_ALIGN}.
     *
     * @return the alignment a registered area must have, or empty before Linux 6.3
     */
    public static OptionalInt align() {
        return ALIGN;
    }

    /**
     * The bytes of struct rseq this kernel writes.
     *
     * @return {@code AT_RSEQ_FEATURE_SIZE}, or 20 when the kernel does not say
     */
    public static int kernelFeatureSize() {
        return FEATURE_SIZE.orElse(RseqAbi.ORIGINAL_FEATURE_SIZE);
    }

    /**
     * The signature pkrseq registers its own areas with, and that every abort handler must follow.
     *
     * @return {@code RSEQ_SIG} for this architecture (0x53053053 on x86_64)
     */
    public static int signature() {
        return RseqAbi.SIGNATURE_X86_64;
    }

    /**
     * The length pkrseq's own registration passes to the kernel: max(32, {@code AT_RSEQ_FEATURE_SIZE}).
     *
     * @return 32 on kernels up to a feature size of 32 (28 on Linux 6.3 to 6.18)
     */
    public static int registrationLength() {
        return Math.max(RseqAbi.MIN_LENGTH, kernelFeatureSize());
    }

    /**
     * The alignment of pkrseq's own areas: max(32, {@code AT_RSEQ_ALIGN}).
     *
     * @return bytes, a power of two
     */
    public static int registrationAlign() {
        return Math.max(RseqAbi.MIN_ALIGN, alignOrDefault());
    }

    /**
     * The bytes pkrseq's own registration lets a reader use: the registered length, capped by what the
     * kernel fills in.
     *
     * @return min(registration length, feature size): 28 here, so node_id and mm_cid are present
     */
    public static int registrationCoveredLength() {
        return Math.min(registrationLength(), kernelFeatureSize());
    }

    /**
     * Who registered the calling thread's area.
     *
     * <p>On a virtual thread it answers for the carrier it runs on now, which pkrseq never registers:
     * glibc or none.
     *
     * @return the owner, {@link Owner#NONE} when nobody did
     */
    public static Owner owner() {
        if (Thread.currentThread().isVirtual()) {
            return carrierGlibcArea() != 0 ? Owner.GLIBC : Owner.NONE;
        }
        return current().map(RseqArea::owner).orElse(Owner.NONE);
    }

    /**
     * The calling platform thread's registered area: glibc's, or pkrseq's own after {@link #register()}.
     *
     * <p>glibc's area counts only when {@code __rseq_size > 0} and its {@code cpu_id} is a CPU: a
     * checkpoint/restore can leave {@code cpu_id == -2} behind. The handle is looked up once per thread
     * (a thread pointer system call) and cached; later calls cost a {@code ThreadLocal} lookup. Keep the
     * handle where the thread's code can reach it without this call.
     *
     * @return the area, or empty when the thread is not registered
     * @throws UnsupportedOperationException on a virtual thread: its carrier, and with it the area, can
     *     change at every blocking call, so a cached handle would report another carrier's CPU. Use
     *     {@link #cpuId()}, which resolves the carrier on each call, or a platform thread.
     */
    public static Optional<RseqArea> current() {
        requirePlatformThread("Rseq.current()");
        RseqArea cached = AREA.get();
        if (cached != null && cached.isRegistered()) {
            return Optional.of(cached);
        }
        if (GLIBC_SIZE > 0 && GLIBC_OFFSET.isPresent()) {
            long address = LoaderCalls.threadPointer() + GLIBC_OFFSET.getAsLong();
            if (cpuIdWord(address) >= 0) {
                RseqArea area = new RseqArea(address, glibcCovered(), Owner.GLIBC, null);
                AREA.set(area);
                return Optional.of(area);
            }
        }
        return Optional.empty();
    }

    /**
     * Registers the calling platform thread's struct rseq with pkrseq's own registration, where glibc did
     * not: under {@code GLIBC_TUNABLES=glibc.pthread.rseq=0}, glibc before 2.35, musl, or after a
     * checkpoint/restore that left glibc's {@code cpu_id == -2}.
     *
     * <p>The area comes from {@link RseqRegistry}: {@link #registrationLength()} bytes aligned to
     * {@link #registrationAlign()}, signature {@link #signature()}. The state is one boolean per thread: a
     * second call on the same thread returns the same registration. Undo it with {@link #unregister()}
     * before the thread ends; a thread that ends without doing so keeps its area out of the pool until
     * its kernel task is gone.
     *
     * <p>Beside glibc's registration the kernel answers EINVAL, reported as "this thread is already
     * registered (by glibc)"; use {@link #ensureRegistered()} to accept whichever registration the thread has.
     *
     * @return the handle, owner {@link Owner#PKRSEQ}
     * @throws RseqException when the kernel refuses: EINVAL beside glibc's registration, ENOSYS where the
     *     kernel has no rseq ("not supported")
     * @throws UnsupportedOperationException on a virtual thread, whose carrier pkrseq does not control
     */
    public static RseqArea register() {
        requirePlatformThread("Rseq.register()");
        RseqArea cached = AREA.get();
        if (cached != null && cached.owner() == Owner.PKRSEQ && cached.isRegistered()) {
            return cached;
        }
        RseqException.ThreadState state = threadState();
        if (state.owner() != Owner.NONE) {
            // Already registered (by glibc): the kernel refuses whatever area we name, so name one outside
            // the pool and leave the pool untouched. Should it ever accept, undo it at once.
            long spare = Spare.MEMORY.address();
            RseqSyscall.call(RseqException.Operation.REGISTER, spare, registrationLength(), 0, signature(), state);
            RseqCalls.rseq(spare, registrationLength(), RseqCalls.RSEQ_FLAG_UNREGISTER, signature());
            throw new IllegalStateException("the kernel accepted a second rseq registration beside " + state.owner()
                    + "'s; pkrseq undid it");
        }
        Thread thread = Thread.currentThread();
        RseqRegistry.Slot slot = RseqRegistry.acquire(thread, ThreadCalls.gettid());
        try {
            RseqSyscall.call(RseqException.Operation.REGISTER, slot.address, registrationLength(), 0, signature(),
                    state);
        } catch (RuntimeException | Error e) {
            // The kernel did not register the area: it may go straight back to the pool.
            RseqRegistry.release(slot, RseqAreaGoneException.Reason.UNREGISTERED);
            throw e;
        }
        RseqArea area = new RseqArea(slot.address, registrationCoveredLength(), Owner.PKRSEQ, slot);
        AREA.set(area);
        return area;
    }

    /**
     * The calling thread's area, whoever registered it, registering pkrseq's own only where nobody did.
     *
     * @return glibc's area, or pkrseq's
     * @throws RseqException when the kernel refuses a registration ("not supported" without rseq)
     * @throws UnsupportedOperationException on a virtual thread
     */
    public static RseqArea ensureRegistered() {
        return current().orElseGet(Rseq::register);
    }

    /**
     * Undoes pkrseq's own registration of the calling thread ({@code RSEQ_FLAG_UNREGISTER}), closes the
     * views shared from it, and returns the area to the pool. The handle then reads -1. glibc's
     * registration is never undone: glibc and the code that relies on it expect it until the thread ends.
     *
     * @return true when pkrseq had registered the thread and now has not; false when it had not (the
     *     thread may still be registered by glibc)
     * @throws RseqException when the kernel refuses, which means someone else changed the registration;
     *     the area then stays out of the pool
     * @throws UnsupportedOperationException on a virtual thread
     */
    public static boolean unregister() {
        requirePlatformThread("Rseq.unregister()");
        RseqArea area = AREA.get();
        if (area == null || area.owner() != Owner.PKRSEQ || !area.isRegistered()) {
            return false;
        }
        RseqSyscall.call(RseqException.Operation.UNREGISTER, area.address(), registrationLength(),
                RseqCalls.RSEQ_FLAG_UNREGISTER, signature(), threadState());
        area.unregistered();
        AREA.remove();
        RseqRegistry.release(area.slot(), RseqAreaGoneException.Reason.UNREGISTERED);
        return true;
    }

    /**
     * The current CPU from rseq, for code that cannot keep a handle.
     *
     * <p>On a platform thread: a {@code ThreadLocal} lookup of the thread's {@link RseqArea}, then one
     * load. Where the cost matters, keep the handle and call {@link RseqArea#cpuId()}.
     *
     * <p>On a virtual thread: the carrier's area is resolved on each call ({@code pthread_self()}, a
     * critical downcall of a few ns, plus {@code __rseq_offset}) and read at once. A virtual thread
     * changes carrier only at a blocking call, and none lies between the lookup and the load, so the
     * answer is the CPU of the carrier it runs on, like {@code sched_getcpu()}. Only glibc's registration
     * is found there: pkrseq never registers carriers.
     *
     * @return the CPU the calling thread runs on
     * @throws IllegalStateException when the thread (or carrier) has no registered area; the message
     *     says why
     */
    public static int cpuId() {
        if (Thread.currentThread().isVirtual()) {
            int cpu = GLIBC_SIZE > 0 && GLIBC_OFFSET.isPresent()
                    ? cpuIdWord(ThreadCalls.pthreadSelf() + GLIBC_OFFSET.getAsLong()) : RseqAbi.CPU_ID_UNINITIALIZED;
            if (cpu < 0) {
                throw notRegistered("the carrier of this virtual thread");
            }
            return cpu;
        }
        RseqArea area = AREA.get();
        if (area == null || !area.isRegistered()) {
            area = current().orElseThrow(() -> notRegistered("this thread"));
        }
        return area.cpuId();
    }

    /**
     * The concurrency id from rseq, for code that cannot keep a handle: a {@code ThreadLocal} lookup,
     * then one load.
     *
     * @return mm_cid, dense per process: below min(threads, CPUs)
     * @throws IllegalStateException when the thread has no registered area, or its registration does not
     *     cover mm_cid (glibc's 20-byte ABI)
     * @throws UnsupportedOperationException on a virtual thread: carriers are glibc's, whose registration
     *     does not cover mm_cid here
     */
    public static int mmCid() {
        requirePlatformThread("Rseq.mmCid()");
        RseqArea area = AREA.get();
        if (area == null || !area.isRegistered()) {
            area = current().orElseThrow(() -> notRegistered("this thread"));
        }
        if (!area.coversMmCid()) {
            throw new IllegalStateException("mm_cid is not covered: " + area.owner() + " registered "
                    + area.coveredLength() + " usable bytes and mm_cid ends at byte " + (RseqAbi.MM_CID + 4)
                    + (area.owner() == Owner.GLIBC ? "; run with GLIBC_TUNABLES=glibc.pthread.rseq=0 and Rseq.register()"
                            : ""));
        }
        return area.mmCidRaw();
    }

    /**
     * The calling platform thread's registered area, whoever registered it, registering pkrseq's own where
     * nobody did: for critical sections that take the area as an argument. A {@code ThreadLocal} lookup
     * once registered. The caller refuses virtual threads first.
     */
    static long areaAddressForCriticalSection() {
        RseqArea area = AREA.get();
        if (area == null || !area.isRegistered()) {
            area = ensureRegistered();
        }
        return area.address();
    }

    /**
     * The calling thread's cpu_id or mm_cid as its struct rseq reads now, without registering anything: a
     * hint for per-CPU operations, -1 where the thread has no usable area yet.
     */
    static int indexHint(boolean mmCid) {
        if (Thread.currentThread().isVirtual()) {
            if (mmCid) {
                return RseqAbi.CPU_ID_UNINITIALIZED;
            }
            long a = carrierGlibcArea();
            return a == 0 ? RseqAbi.CPU_ID_UNINITIALIZED : cpuIdWord(a);
        }
        RseqArea area = AREA.get();
        if (area == null || !area.isRegistered()) {
            area = current().orElse(null);
            if (area == null) {
                return RseqAbi.CPU_ID_UNINITIALIZED;
            }
        }
        return mmCid ? area.mmCidRaw() : area.cpuId();
    }

    /** The bytes of glibc's struct rseq a reader may use: {@code __rseq_size}, capped by the kernel's feature size. */
    static int glibcCoveredLength() {
        return glibcCovered();
    }

    static void requirePlatformThread(String what) {
        if (Thread.currentThread().isVirtual()) {
            throw new VirtualThreadException(what + " refused on virtual thread '" + Thread.currentThread().getName()
                    + "': rseq areas belong to platform threads, and a virtual thread's carrier can change at every"
                    + " blocking call, so a handle kept here would report another carrier's CPU."
                    + " Use Rseq.cpuId(), which resolves the carrier on each call, or a platform thread");
        }
    }

    /** The calling platform thread's registration as pkrseq knows it, for explaining kernel errors. */
    static RseqException.ThreadState threadState() {
        return current().map(a -> new RseqException.ThreadState(a.owner(), a.address(),
                a.owner() == Owner.GLIBC ? RseqAbi.MIN_LENGTH : registrationLength(), signature()))
                .orElse(RseqException.ThreadState.NONE);
    }

    static int alignOrDefault() {
        return ALIGN.orElse(RseqAbi.MIN_ALIGN);
    }

    private static IllegalStateException notRegistered(String who) {
        return new IllegalStateException(who + " has no registered rseq area: " + whyNotRegistered()
                + (who.startsWith("the carrier") ? "" : "; call Rseq.register() to register it"));
    }

    /**
     * Why glibc did not register the calling thread, in words. Where the cause is that rseq does not
     * work here, it says so by name: no rseq in the kernel (ENOSYS), or rseq denied (a seccomp filter's
     * EPERM, say), never one for the other.
     *
     * @return the reason, or a note that glibc did register it
     */
    public static String whyNotRegistered() {
        if (GLIBC_OFFSET.isEmpty()) {
            return "the C library exports no __rseq_offset (glibc before 2.35, or musl)" + unavailable("; also ");
        }
        if (GLIBC_SIZE == 0) {
            if (tunableOff()) {
                return "glibc did not register rseq (__rseq_size is 0; GLIBC_TUNABLES=" + System.getenv("GLIBC_TUNABLES")
                        + " turns its registration off)";
            }
            String why = unavailable("");
            return "glibc did not register rseq (__rseq_size is 0): " + (why.isEmpty()
                    ? "its registration failed at start-up, though rseq works now" : "its registration failed: " + why);
        }
        int word = glibcCpuIdWord().orElse(RseqAbi.CPU_ID_REGISTRATION_FAILED);
        String why = unavailable("");
        return "glibc's area reports cpu_id " + word + (why.isEmpty()
                ? " (registration failed or was lost, for example after checkpoint/restore)"
                : ": glibc's registration of this thread failed: " + why);
    }

    /**
     * Whether rseq works in this process, and if not, why: the answer to {@code rseq(NULL, 0, 0, 0)}, a call
     * that can never register anything. Asked anew each time: a seccomp filter can be installed while the
     * process runs.
     *
     * @return the answer; {@link RseqAvailability#reason()} says why not in words
     */
    public static RseqAvailability availability() {
        return RseqSyscall.availability();
    }

    /** Why rseq does not work here, after a prefix; empty where it works. */
    private static String unavailable(String prefix) {
        if (!Syscall.architectureSupported()) {
            return "";
        }
        String why = availability().reason();
        return why == null ? "" : prefix + why;
    }

    private static boolean tunableOff() {
        String t = System.getenv("GLIBC_TUNABLES");
        return t != null && Arrays.asList(t.split(":")).contains("glibc.pthread.rseq=0");
    }

    // The carrier's glibc area, or 0. Valid until the virtual thread next blocks.
    private static long carrierGlibcArea() {
        if (GLIBC_SIZE <= 0 || GLIBC_OFFSET.isEmpty()) {
            return 0;
        }
        long address = ThreadCalls.pthreadSelf() + GLIBC_OFFSET.getAsLong();
        return cpuIdWord(address) >= 0 ? address : 0;
    }

    private static int cpuIdWord(long address) {
        return (int) INT.getOpaque(MemoryCalls.memory(address, RseqAbi.MIN_LENGTH), (long) RseqAbi.CPU_ID);
    }

    /**
     * The raw {@code cpu_id} word glibc keeps at thread pointer + {@code __rseq_offset}, registered or
     * not: -2 tells that glibc chose not to register the thread.
     *
     * @return the word, or empty when glibc exports no offset
     */
    public static OptionalInt glibcCpuIdWord() {
        if (GLIBC_OFFSET.isEmpty()) {
            return OptionalInt.empty();
        }
        return OptionalInt.of(cpuIdWord(LoaderCalls.threadPointer() + GLIBC_OFFSET.getAsLong()));
    }

    // glibc's __rseq_size of 20 or 32 both mean the original 20-byte ABI; 2.41+ reports the feature size.
    private static int glibcCovered() {
        int advertised = GLIBC_SIZE == RseqAbi.MIN_LENGTH ? RseqAbi.ORIGINAL_FEATURE_SIZE : GLIBC_SIZE;
        return Math.min(advertised, kernelFeatureSize());
    }

    private static OptionalInt auxv(long type) {
        long v = LoaderCalls.getauxval(type);
        return v == 0 ? OptionalInt.empty() : OptionalInt.of((int) v);
    }
}
