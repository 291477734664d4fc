package dev.pkrseq.sequences;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;

import dev.pkrseq.observe.AccessProbe;
import dev.pkrseq.pkey.Hazard;
import dev.pkrseq.pkey.KeyClosedException;
import dev.pkrseq.pkey.KeyInUseException;
import dev.pkrseq.pkey.KeyZeroException;
import dev.pkrseq.pkey.PageWalk;
import dev.pkrseq.pkey.Pages;
import dev.pkrseq.pkey.Pkeys;
import dev.pkrseq.pkey.PkeysUnavailableException;
import dev.pkrseq.pkey.Pkru;
import dev.pkrseq.pkey.ProtectionKey;
import dev.pkrseq.pkey.Rights;
import dev.pkrseq.pkey.RightsScope;
import dev.pkrseq.pkey.UntaggableSegmentException;
import dev.pkrseq.pkey.VirtualThreadException;
import dev.pkrseq.proc.Smaps;
import dev.pkrseq.proc.Vma;
import dev.pkrseq.rseq.Owner;
import dev.pkrseq.rseq.Rseq;
import dev.pkrseq.rseq.RseqArea;
import dev.pkrseq.rseq.RseqException;
import dev.pkrseq.rseq.RseqRegistry;
import dev.pkrseq.sys.Errno;
import dev.pkrseq.sys.NativeException;
import dev.pkrseq.sys.Sys;
import dev.pkrseq.testing.LeakCheck;

/**
 * Runs one {@link Sequence} against the library and against a model of what the library documents, and
 * fails at the first step whose outcome the model did not predict: a value, or an exception of another
 * type, errno or message. Afterwards it cleans up as a careful user would (closes arenas, unmaps pages,
 * frees keys, unregisters) and asserts the leak invariants: no page carries a non-zero key, as many keys
 * are allocatable as before, the calling thread's PKRU is as before, and pkrseq's rseq pool has no area
 * left.
 *
 * <p>The model knows: each key's number and whether it is open; each worker's PKRU bits for all 16 keys
 * (fresh workers inherit the creating thread's PKRU; pkey_alloc gives the allocating thread the initial
 * rights; close sets the closing thread's bits to no-access); each page of each region, by address: mapped
 * or not, its key and protection, and the value last written into it; and each worker's own rseq
 * registration. Regions are addressed page by page, so a region mapped into another region's hole is
 * seen by a tagging over that hole, as the kernel sees it.
 *
 * <p>The runner never touches memory that is not its own: a raw region's unmapped page is never unmapped
 * again, and a tagging over a hole is skipped when something else of the JVM got mapped into the hole.
 */
final class SequenceRunner {
    private static final int RW = Sys.PROT_READ | Sys.PROT_WRITE;
    private static final long PAGE = Pages.size();

    private final Sequence sequence;
    private final boolean touches;
    private final boolean pkeys = Pkeys.supported();
    /** pkrseq's own registration is possible: nobody (glibc) registered the threads. */
    private final boolean ownRseq = Rseq.glibcSize() == 0 || Rseq.glibcOffset().isEmpty();
    private final long limitSeconds;

    private final List<KeyM> keys = new ArrayList<>();
    private final List<RegionM> regions = new ArrayList<>();
    private final List<Worker> workers = new ArrayList<>();
    private int[][] bits;
    private boolean[] registered;
    private long[] rseqArea;
    private int capacity;
    private Pkru startPkru;
    private int stepIndex = -1;
    private final StringBuilder skipped = new StringBuilder();
    private final List<String> outcomes = new ArrayList<>();
    private final List<ProtectionKey> reserved = new ArrayList<>();

    private static final class KeyM {
        final ProtectionKey key;
        final int number;
        boolean open = true;

        KeyM(ProtectionKey key) {
            this.key = key;
            this.number = key.number();
        }
    }

    private static final class RegionM {
        final boolean raw;
        final Arena arena;
        final MemorySegment segment;
        final long base;
        final int pages;
        final boolean[] mapped;
        final int[] key;
        final int[] prot;
        final long[] value;
        boolean closed;

        RegionM(boolean raw, Arena arena, MemorySegment segment, int pages) {
            this.raw = raw;
            this.arena = arena;
            this.segment = segment;
            this.base = segment.address();
            this.pages = pages;
            this.mapped = new boolean[pages];
            this.key = new int[pages];
            this.prot = new int[pages];
            this.value = new long[pages];
            java.util.Arrays.fill(mapped, true);
            java.util.Arrays.fill(prot, RW);
        }

        long address(int page) {
            return base + page * PAGE;
        }

        boolean hasHole() {
            for (boolean m : mapped) {
                if (!m) {
                    return true;
                }
            }
            return false;
        }
    }

    /** A page the runner owns, mapped now. */
    private record PageRef(RegionM region, int index) {
    }

    /** What the model lets a thread do to a mapped page: read and write, or read only, or neither. */
    private record Access(boolean read, boolean write) {
    }

    SequenceRunner(Sequence sequence, boolean touches, long limitSeconds) {
        this.sequence = sequence;
        this.touches = touches;
        this.limitSeconds = limitSeconds;
    }

    /**
     * Runs the sequence, cleans up, checks the invariants.
     *
     * @return the steps skipped because the memory around them was not the runner's to touch, or empty
     * @throws AssertionError at the first unexpected outcome, naming the step, or when an invariant fails
     */
    String run() throws Exception {
        int n = sequence.threads();
        startPkru = pkeys ? Pkru.current() : null;
        capacity = pkeys ? Pkeys.allocatableNow() : 0;
        if (pkeys) {
            for (int i = 0; i < Math.min(sequence.reserved(), capacity); i++) {
                reserved.add(ProtectionKey.allocate(Rights.NO_ACCESS));
            }
        }
        // Workers inherit this thread's PKRU as it is now, reserved keys included.
        Pkru inherited = pkeys ? Pkru.current() : null;
        bits = new int[n][Pkru.KEYS];
        for (int t = 0; t < n; t++) {
            for (int k = 0; k < Pkru.KEYS; k++) {
                bits[t][k] = inherited == null ? 0 : inherited.bits(k);
            }
        }
        registered = new boolean[n];
        rseqArea = new long[n];
        AssertionError failure = null;
        try {
            for (int t = 0; t < n; t++) {
                workers.add(new Worker("seq-worker-" + t, limitSeconds));
            }
            for (Step s : sequence.steps()) {
                stepIndex++;
                if (s.thread() >= n) {
                    continue;
                }
                step(s);
                if (pkeys) {
                    int t = s.thread();
                    Pkru actual = workers.get(t).call(Pkru::current);
                    check(actual.equals(model(t)), "PKRU of worker " + t + " is " + actual + ", the model says " + model(t));
                }
            }
        } catch (AssertionError e) {
            failure = e;
        } finally {
            try {
                cleanUp();
            } catch (Throwable e) {
                if (failure == null) {
                    failure = new AssertionError("cleaning up after " + sequence + ": " + e, e);
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
        checkInvariants();
        return skipped.toString();
    }

    private Pkru model(int t) {
        int v = 0;
        for (int k = 0; k < Pkru.KEYS; k++) {
            v |= bits[t][k] << (2 * k);
        }
        return new Pkru(v);
    }

    // ---- one step --------------------------------------------------------------------------------

    private void step(Step s) throws Exception {
        switch (s.kind()) {
            case ALLOC -> alloc(s);
            case FREE -> free(s);
            case RIGHTS -> rights(s);
            case SCOPED -> scoped(s);
            case GET -> get(s);
            case MAP -> map(s);
            case UNMAP -> unmap(s);
            case PROTECT -> protect(s);
            case WALK -> walk(s);
            case MISUSE -> misuse(s);
            case PROBE -> probe(s);
            case TOUCH -> touch(s);
            case REGISTER -> register(s);
            case UNREGISTER -> unregister(s);
            case CPU -> cpu(s);
            case VTHREAD -> vthread(s);
            default -> throw new AssertionError(s.kind());
        }
    }

    private void alloc(Step s) throws Exception {
        Rights r = Step.rights(s.arg());
        Outcome<ProtectionKey> o = on(s, () -> ProtectionKey.allocate(r));
        if (!pkeys) {
            o.expect(PkeysUnavailableException.class, "protection keys are not available");
            return;
        }
        if (openKeys() + reserved.size() == capacity) {
            NativeException e = o.expect(NativeException.class, "pkey_alloc");
            check(e.errno() == Errno.ENOSPC, "pkey_alloc with every key taken gave " + e.errno() + ", not ENOSPC");
            return;
        }
        ProtectionKey key = o.value();
        int n = key.number();
        check(n >= 1 && n <= 15, "pkey_alloc gave key " + n);
        for (KeyM k : keys) {
            check(!(k.open && k.number == n), "pkey_alloc gave key " + n + ", which is still open");
        }
        keys.add(new KeyM(key));
        bits[s.thread()][n] = r.bits();
    }

    private void free(Step s) throws Exception {
        if (s.key() < 0) {
            on(s, () -> {
                ProtectionKey.DEFAULT.close();
                return null;
            }).expect(KeyZeroException.class, "refusing to free key 0");
            return;
        }
        KeyM k = key(s);
        if (k == null) {
            return;
        }
        Outcome<Void> o = on(s, () -> {
            k.key.close();
            return null;
        });
        if (!k.open) {
            o.value();
            return;
        }
        if (firstPageOf(k.number) != null) { // a page carries the key (model keys are >= 1: alloc checks it)
            KeyInUseException e = o.expect(KeyInUseException.class, "refusing to free protection key " + k.number);
            check(e.key() == k.number, "KeyInUseException names key " + e.key());
            check(k.key.isOpen(), "a refused key stays open");
            return;
        }
        o.value();
        k.open = false;
        if (pkeys) {
            bits[s.thread()][k.number] = Sys.PKEY_DISABLE_ACCESS;
        }
    }

    private void rights(Step s) throws Exception {
        Rights r = Step.rights(s.arg());
        ProtectionKey key = keyOrDefault(s);
        if (key == null) {
            return;
        }
        Outcome<Void> o = on(s, () -> {
            key.setRights(r);
            return null;
        });
        if (refusedChange(o, key, r)) {
            return;
        }
        o.value();
        bits[s.thread()][key.number()] = r.bits();
    }

    private void scoped(Step s) throws Exception {
        Rights r = Step.rights(s.arg());
        ProtectionKey key = keyOrDefault(s);
        if (key == null) {
            return;
        }
        int before = bits[s.thread()][key.number()];
        PageRef page = firstPageOf(key.number());
        Outcome<String> o = on(s, () -> {
            try (RightsScope scope = key.withRights(r)) {
                String inside = scope.rights() + "/" + key.rights();
                if (page != null) {
                    inside += "/" + AccessProbe.canRead(page.region().address(page.index()), 8);
                }
                return inside;
            }
        });
        if (refusedChange(o, key, r)) {
            return;
        }
        String inside = o.value();
        String expected = r + "/" + r + (page != null ? "/" + (r != Rights.NO_ACCESS) : "");
        check(inside.equals(expected), "inside the scope: " + inside + ", the model says " + expected);
        Rights after = workers.get(s.thread()).call(key::rights);
        check(after == Rights.ofBits(before), "after the scope the rights are " + after + ", not " + Rights.ofBits(before));
    }

    /** The refusals of setRights and withRights, in the order the library checks them. */
    private boolean refusedChange(Outcome<?> o, ProtectionKey key, Rights r) {
        if (!modelOpen(key)) {
            o.expect(KeyClosedException.class, "protection key " + key.number() + " is closed");
            return true;
        }
        if (key.number() == 0 && r.denies()) {
            o.expect(KeyZeroException.class, "refusing to set key 0 to " + r);
            return true;
        }
        if (!pkeys) {
            o.expect(PkeysUnavailableException.class, "protection keys are not available");
            return true;
        }
        return false;
    }

    private void get(Step s) throws Exception {
        ProtectionKey key = keyOrDefault(s);
        if (key == null) {
            return;
        }
        Outcome<Rights> o = on(s, key::rights);
        if (!modelOpen(key)) {
            o.expect(KeyClosedException.class, "cannot read its rights");
            return;
        }
        if (!pkeys) {
            o.expect(PkeysUnavailableException.class, "protection keys are not available");
            return;
        }
        Rights want = Rights.ofBits(bits[s.thread()][key.number()]);
        check(o.value() == want, "rights() gave " + o.value() + ", the model says " + want);
    }

    private void map(Step s) throws Exception {
        int pages = 1 + s.page() % 4;
        boolean raw = s.arg().equals("raw");
        RegionM r = on(s, () -> {
            if (raw) {
                long a = Sys.mmap(0, pages * PAGE, RW, Sys.MAP_PRIVATE | Sys.MAP_ANONYMOUS, -1, 0);
                return new RegionM(true, null, Sys.memory(a, pages * PAGE), pages);
            }
            Arena arena = Arena.ofShared();
            return new RegionM(false, arena, Pages.allocate(arena, pages), pages);
        }).value();
        // A page of ours that was a hole of another raw region is that region's hole no longer.
        regions.add(r);
    }

    private void unmap(Step s) throws Exception {
        RegionM r = region(s);
        if (r == null) {
            return;
        }
        if (r.raw) {
            int p = s.page() % r.pages;
            if (!r.mapped[p]) {
                return; // never unmap what may no longer be ours
            }
            on(s, () -> {
                Sys.munmap(r.address(p), PAGE);
                return null;
            }).value();
            r.mapped[p] = false;
            r.key[p] = 0;
            r.prot[p] = RW;
            r.value[p] = 0;
            return;
        }
        if (r.closed) {
            return;
        }
        on(s, () -> {
            r.arena.close();
            return null;
        }).value();
        r.closed = true;
        java.util.Arrays.fill(r.mapped, false);
    }

    private void protect(Step s) throws Exception {
        tag(s, false);
    }

    private void walk(Step s) throws Exception {
        tag(s, true);
    }

    private void tag(Step s, boolean pageWalk) throws Exception {
        ProtectionKey key = keyOrDefault(s);
        RegionM r = region(s);
        if (key == null || r == null) {
            return;
        }
        boolean hazard = s.arg().endsWith("!");
        int prot = s.arg().startsWith("rw") ? RW : Sys.PROT_READ;
        Hazard h = hazard ? Hazard.MAY_KILL_THIS_JVM : null;
        if (modelOpen(key) && !r.closed && !holesAreFree(r)) {
            skipped.append("step ").append(stepIndex).append(" (").append(s).append("): a mapping of the JVM sits in a hole; ");
            return;
        }
        Outcome<PageWalk> o = on(s, () -> {
            if (pageWalk) {
                return key.tagPages(r.segment, prot, h);
            }
            key.protect(r.segment, prot, h);
            return null;
        });
        if (!modelOpen(key)) {
            o.expect(KeyClosedException.class, "cannot tag memory");
            return;
        }
        if (r.closed) {
            UntaggableSegmentException e = o.expect(UntaggableSegmentException.class, "arena is closed");
            check(e.reason() == UntaggableSegmentException.Reason.CLOSED, "reason " + e.reason());
            return;
        }
        if (r.raw && !hazard) {
            // Memory the library did not map: refused by what it is, before the kernel.
            UntaggableSegmentException e = o.expect(UntaggableSegmentException.class, "cannot tag 0x");
            UntaggableSegmentException.Reason want = notOwnedReason(r);
            check(e.reason() == want, "refused for " + e.reason() + ", the model says " + want + ": " + e.getMessage());
            return;
        }
        // The kernel: an unallocated key (key 0 where protection keys are off) is EINVAL before anything.
        boolean keyKnown = pkeys;
        if (pageWalk) {
            PageWalk w = o.value();
            check(w.pages().size() == r.pages, "the walk reports " + w.pages().size() + " pages, not " + r.pages);
            for (int i = 0; i < r.pages; i++) {
                PageWalk.Page p = w.pages().get(i);
                PageRef ref = owned(r.address(i));
                PageWalk.Status want = !keyKnown ? PageWalk.Status.FAILED
                        : ref == null ? PageWalk.Status.NOT_MAPPED : PageWalk.Status.TAGGED;
                check(p.status() == want, "page " + i + " of the walk is " + p + ", the model says " + want);
                if (!keyKnown) {
                    check(p.errno() == Errno.EINVAL, "page " + i + ": " + p.errno() + ", not EINVAL");
                } else if (ref != null) {
                    setPage(ref, key.number(), prot);
                }
            }
            return;
        }
        if (!keyKnown) {
            NativeException e = o.expect(NativeException.class, "pkey_mprotect");
            check(e.errno() == Errno.EINVAL, "pkey_mprotect without protection keys gave " + e.errno());
            return;
        }
        boolean hole = false;
        for (int i = 0; i < r.pages && !hole; i++) {
            PageRef ref = owned(r.address(i));
            if (ref == null) {
                hole = true;
            } else {
                setPage(ref, key.number(), prot);
            }
        }
        if (hole) {
            NativeException e = o.expect(NativeException.class, "pkey_mprotect");
            check(e.errno() == Errno.ENOMEM, "pkey_mprotect over a hole gave " + e.errno() + ", not ENOMEM");
        } else {
            o.value();
        }
    }

    private void misuse(Step s) throws Exception {
        ProtectionKey key = keyOrDefault(s);
        RegionM r = region(s);
        if (key == null || r == null) {
            return;
        }
        String kind = s.arg();
        if (kind.equals("alias") && modelOpen(key) && !foreignFree(r)) {
            skipped.append("step ").append(stepIndex).append(" (").append(s).append("): a mapping of the JVM sits where r")
                    .append(s.region()).append(" was; ");
            return;
        }
        Outcome<Void> o = on(s, () -> {
            try (Arena malloc = Arena.ofConfined()) {
                MemorySegment seg = switch (kind) {
                    case "heap" -> MemorySegment.ofArray(new byte[(int) (2 * PAGE)]);
                    case "unaligned" -> r.segment.asSlice(64, PAGE - 64);
                    case "partial" -> r.pages > 1 ? r.segment.asSlice(0, PAGE + 1) : r.segment.asSlice(0, 100);
                    case "malloc" -> malloc.allocate(2 * PAGE, PAGE);
                    case "alias" -> Sys.memory(r.base, r.pages * PAGE);
                    default -> throw new IllegalArgumentException(kind);
                };
                key.protect(seg, RW);
            }
            return null;
        });
        if (!modelOpen(key)) {
            o.expect(KeyClosedException.class, "cannot tag memory");
            return;
        }
        UntaggableSegmentException.Reason want = switch (kind) {
            case "heap" -> UntaggableSegmentException.Reason.HEAP;
            case "malloc" -> UntaggableSegmentException.Reason.MALLOC;
            case "alias" -> r.raw || r.closed ? notOwnedReason(r) : UntaggableSegmentException.Reason.ALIAS;
            default -> r.closed ? UntaggableSegmentException.Reason.CLOSED
                    : kind.equals("unaligned") ? UntaggableSegmentException.Reason.UNALIGNED
                    : UntaggableSegmentException.Reason.PARTIAL_PAGES;
        };
        UntaggableSegmentException e = o.expect(UntaggableSegmentException.class, "cannot tag");
        check(e.reason() == want, "refused for " + e.reason() + ", the model says " + want + ": " + e.getMessage());
    }

    private void probe(Step s) throws Exception {
        RegionM r = region(s);
        if (r == null) {
            return;
        }
        int p = s.page() % r.pages;
        if (!r.mapped[p]) {
            return; // probe only memory known to be mapped
        }
        long a = r.address(p);
        String got = on(s, () -> AccessProbe.canRead(a, 8) + "/" + AccessProbe.canWrite(a, 8)).value();
        Access access = modelAccess(s.thread(), r, p);
        boolean read = access.read();
        boolean write = access.write();
        check(got.equals(read + "/" + write), "kernel access to page " + p + " (key " + r.key[p] + ", prot "
                + (r.prot[p] == RW ? "rw" : "r") + ") is read/write " + got + ", the model says " + read + "/" + write);
    }

    private void touch(Step s) throws Exception {
        RegionM r = region(s);
        if (!touches || r == null) {
            return;
        }
        int p = s.page() % r.pages;
        if (!r.mapped[p]) {
            return;
        }
        Access access = modelAccess(s.thread(), r, p);
        boolean read = access.read();
        boolean write = access.write();
        if (!read) {
            return; // a Java read would fault: that is what the model says, and the probe checks it
        }
        long address = r.address(p);
        long v = 0x5EED_0000_0000L + stepIndex;
        long got = on(s, () -> {
            MemorySegment m = Sys.memory(address, PAGE);
            long old = m.get(JAVA_LONG, 0);
            if (write) {
                m.set(JAVA_LONG, 0, v);
                return m.get(JAVA_LONG, 0) == v ? old : Long.MIN_VALUE;
            }
            return old;
        }).value();
        check(got == r.value[p], "page " + p + " holds " + Long.toHexString(got) + ", the model says "
                + Long.toHexString(r.value[p]));
        if (write) {
            r.value[p] = v;
        }
    }

    private void register(Step s) throws Exception {
        int t = s.thread();
        Outcome<RseqArea> o = on(s, Rseq::register);
        if (!ownRseq) {
            RseqException e = o.expect(RseqException.class, "this thread is already registered (by glibc)");
            check(e.errno() == Errno.EINVAL, "register beside glibc gave " + e.errno());
            return;
        }
        RseqArea a = o.value();
        check(a.owner() == Owner.PKRSEQ, "owner " + a.owner());
        if (registered[t]) {
            check(a.address() == rseqArea[t], "a second register() gave another area");
        }
        registered[t] = true;
        rseqArea[t] = a.address();
    }

    private void unregister(Step s) throws Exception {
        int t = s.thread();
        boolean undone = on(s, Rseq::unregister).value();
        check(undone == (ownRseq && registered[t]), "unregister() gave " + undone);
        registered[t] = false;
    }

    private void cpu(Step s) throws Exception {
        int t = s.thread();
        Outcome<Integer> o = on(s, Rseq::cpuId);
        if (ownRseq && !registered[t]) {
            o.expect(IllegalStateException.class, "has no registered rseq area");
            return;
        }
        int cpu = o.value();
        check(cpu >= 0 && cpu < Sys.onlineCpus(), "cpu_id " + cpu + " is out of range");
    }

    private void vthread(Step s) throws Exception {
        ProtectionKey key = keyOrDefault(s);
        if (key == null) {
            return;
        }
        Outcome<Void> o = on(s, () -> {
            AtomicReference<Throwable> thrown = new AtomicReference<>();
            Thread vt = Thread.ofVirtual().start(() -> {
                try {
                    key.setRights(Rights.READ_WRITE);
                } catch (Throwable e) {
                    thrown.set(e);
                }
            });
            vt.join();
            if (thrown.get() instanceof RuntimeException e) {
                throw e;
            }
            return null;
        });
        if (!modelOpen(key)) {
            o.expect(KeyClosedException.class, "is closed");
        } else {
            o.expect(VirtualThreadException.class, "use a platform thread");
        }
    }

    // ---- the model's helpers ---------------------------------------------------------------------

    private KeyM key(Step s) {
        return keys.isEmpty() ? null : keys.get(s.key() % keys.size());
    }

    /** The step's key; key 0 for {@code kD}, and also while the sequence has allocated none. */
    private ProtectionKey keyOrDefault(Step s) {
        KeyM k = s.key() < 0 ? null : key(s);
        return k == null ? ProtectionKey.DEFAULT : k.key;
    }

    /** Whether the model holds the key open; key 0 always is. */
    private boolean modelOpen(ProtectionKey key) {
        if (key == ProtectionKey.DEFAULT) {
            return true;
        }
        for (KeyM k : keys) {
            if (k.key == key) {
                return k.open;
            }
        }
        throw new AssertionError("a key the model does not know: " + key);
    }

    private RegionM region(Step s) {
        return regions.isEmpty() ? null : regions.get(s.region() % regions.size());
    }

    private int openKeys() {
        return (int) keys.stream().filter(k -> k.open).count();
    }

    private PageRef owned(long address) {
        for (RegionM r : regions) {
            if (address >= r.base && address < r.base + r.pages * PAGE) {
                int i = (int) ((address - r.base) / PAGE);
                if (r.mapped[i]) {
                    return new PageRef(r, i);
                }
            }
        }
        return null;
    }

    private void setPage(PageRef ref, int key, int prot) {
        ref.region().key[ref.index()] = key;
        ref.region().prot[ref.index()] = prot;
    }

    /**
     * What the model says {@code thread} may do to page {@code p} of {@code r}: read unless its PKRU bits for
     * the page's key disable access; write only with no bit set and a read-write page.
     */
    private Access modelAccess(int thread, RegionM r, int p) {
        int b = bits[thread][r.key[p]];
        return new Access((b & Sys.PKEY_DISABLE_ACCESS) == 0, b == 0 && r.prot[p] == RW);
    }

    private PageRef firstPageOf(int key) {
        for (RegionM r : regions) {
            for (int i = 0; i < r.pages; i++) {
                if (r.mapped[i] && r.key[i] == key && key != 0) {
                    return new PageRef(r, i);
                }
            }
        }
        return null;
    }

    /**
     * Why tagging a region the library does not own (raw, or an alias of any region) is refused: the first page
     * that is not an open arena region's names it; mapped by a raw region of the runner it is anonymous memory,
     * unmapped it is nothing (the callers skip ranges where memory of the JVM sits).
     */
    private UntaggableSegmentException.Reason notOwnedReason(RegionM r) {
        for (int i = 0; i < r.pages; i++) {
            PageRef ref = owned(r.address(i));
            if (ref == null) {
                return UntaggableSegmentException.Reason.NOT_MAPPED;
            }
            if (ref.region().raw) {
                return UntaggableSegmentException.Reason.ANONYMOUS;
            }
        }
        return UntaggableSegmentException.Reason.ALIAS;
    }

    /** Whether every page of a region's range that the runner does not map is unmapped, not the JVM's. */
    private boolean foreignFree(RegionM r) {
        List<Vma> vmas = Smaps.self();
        for (int i = 0; i < r.pages; i++) {
            long a = r.address(i);
            if (owned(a) == null && Smaps.containing(vmas, a).isPresent()) {
                return false;
            }
        }
        return true;
    }

    /** Whether every hole of a raw region is still unmapped, or mapped by a region of this runner. */
    private boolean holesAreFree(RegionM r) {
        if (!r.raw || !r.hasHole()) {
            return true;
        }
        List<Vma> vmas = Smaps.self();
        for (int i = 0; i < r.pages; i++) {
            long a = r.address(i);
            if (!r.mapped[i] && owned(a) == null && Smaps.containing(vmas, a).isPresent()) {
                return false;
            }
        }
        return true;
    }

    // ---- running on a worker ---------------------------------------------------------------------

    private <T> Outcome<T> on(Step s, Callable<T> action) throws Exception {
        Outcome<T> o = workers.get(s.thread()).call(() -> {
            try {
                return new Outcome<>(s, stepIndex, action.call(), null);
            } catch (RuntimeException e) {
                return new Outcome<>(s, stepIndex, null, e);
            }
        });
        String what = o.thrown() == null ? "ok" : o.thrown().getClass().getSimpleName();
        if (o.thrown() instanceof NativeException n) {
            what += " " + n.errno();
        } else if (o.thrown() instanceof RseqException n) {
            what += " " + n.errno();
        } else if (o.thrown() instanceof UntaggableSegmentException u) {
            what += " " + u.reason();
        } else if (o.result() instanceof PageWalk w) {
            what = w.pages().stream().map(p -> p.status().toString()).distinct().sorted().collect(
                    java.util.stream.Collectors.joining("+"));
        }
        outcomes.add(s.kind().word() + ": " + what);
        return o;
    }

    /**
     * What each step that ran gave, for statistics: for example {@code free: KeyInUseException}.
     *
     * @return one entry per step that reached the library
     */
    List<String> outcomes() {
        return outcomes;
    }

    /** What a step gave: a value or an exception. */
    private record Outcome<T>(Step step, int index, T result, RuntimeException thrown) {
        T value() {
            if (thrown != null) {
                throw new AssertionError("step " + index + " (" + step + ") threw " + thrown + ", the model expected success",
                        thrown);
            }
            return result;
        }

        <E extends RuntimeException> E expect(Class<E> type, String phrase) {
            if (thrown == null) {
                throw new AssertionError("step " + index + " (" + step + ") succeeded, the model expected "
                        + type.getSimpleName() + " (" + phrase + ")");
            }
            if (thrown.getClass() != type) {
                throw new AssertionError("step " + index + " (" + step + ") threw " + thrown + ", the model expected "
                        + type.getSimpleName() + " (" + phrase + ")", thrown);
            }
            if (thrown.getMessage() == null || !thrown.getMessage().contains(phrase)) {
                throw new AssertionError("step " + index + " (" + step + ") threw " + thrown + " without '" + phrase + "'",
                        thrown);
            }
            return type.cast(thrown);
        }
    }

    private void check(boolean ok, String what) {
        if (!ok) {
            Step s = stepIndex >= 0 && stepIndex < sequence.steps().size() ? sequence.steps().get(stepIndex) : null;
            throw new AssertionError("step " + stepIndex + (s == null ? "" : " (" + s + ")") + ": " + what);
        }
    }

    // ---- the end ---------------------------------------------------------------------------------

    private void cleanUp() throws Exception {
        Throwable first = null;
        for (RegionM r : regions) {
            try {
                if (r.raw) {
                    for (int i = 0; i < r.pages; i++) {
                        if (r.mapped[i]) {
                            Sys.munmap(r.address(i), PAGE);
                            r.mapped[i] = false;
                        }
                    }
                } else if (!r.closed) {
                    r.arena.close();
                    r.closed = true;
                }
            } catch (RuntimeException e) {
                first = first == null ? e : first;
            }
        }
        if (!workers.isEmpty()) {
            Worker w0 = workers.get(0);
            for (KeyM k : keys) {
                if (k.open) {
                    w0.call(() -> {
                        k.key.close();
                        return null;
                    });
                    k.open = false;
                }
            }
        }
        for (ProtectionKey k : reserved) {
            k.close();
        }
        if (startPkru != null) {
            startPkru.restore(); // closing the reserved keys set this thread's bits for them to no-access
        }
        for (int t = 0; t < workers.size(); t++) {
            if (ownRseq && registered[t] && !sequence.endRegistered()) {
                check(workers.get(t).call(Rseq::unregister), "worker " + t + " could not unregister");
                registered[t] = false;
            }
        }
        for (Worker w : workers) {
            w.close();
            check(!w.thread().isAlive(), "worker '" + w.thread().getName() + "' did not end");
        }
        if (first != null) {
            throw new AssertionError("cleaning up: " + first, first);
        }
    }

    private void checkInvariants() {
        stepIndex = sequence.steps().size();
        List<Vma> tagged = Pkeys.taggedMappings();
        check(tagged.isEmpty(), "after the sequence, pages still carry a key: " + tagged);
        if (pkeys) {
            int allocatable = Pkeys.allocatableNow();
            check(allocatable == capacity, "after the sequence " + allocatable + " keys are allocatable, before it "
                    + capacity);
            Pkru now = Pkru.current();
            check(now.equals(startPkru), "after the sequence this thread's PKRU is " + now + ", before it " + startPkru);
        }
        try {
            LeakCheck.reclaimRseqPool(Duration.ofSeconds(10), Duration.ofMillis(10), p -> true);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        check(RseqRegistry.registeredCount() == 0, "after the sequence pkrseq's rseq pool still has areas: "
                + RseqRegistry.snapshot().inUse());
    }
}
