package dev.pkrseq.tls;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicReference;

import dev.pkrseq.pkey.Hazard;
import dev.pkrseq.pkey.ProtectionKey;
import dev.pkrseq.proc.SelfMemory;
import dev.pkrseq.proc.Smaps;
import dev.pkrseq.proc.Task;
import dev.pkrseq.proc.Vma;
import dev.pkrseq.sys.ElfModule;
import dev.pkrseq.sys.Sys;
import dev.pkrseq.sys.Syscall;
import dev.pkrseq.sys.TlsStaticInfo;

/**
 * Computes static TLS maps: for the calling thread, for a fresh platform thread, for a virtual thread's
 * carrier, and, by looking rather than running, for the process's initial thread.
 *
 * <p>Requires x86_64 and glibc ({@code _dl_get_tls_static_info}). Each map costs one smaps read (a few
 * milliseconds in a JVM with hundreds of mappings), one {@code dl_iterate_phdr} walk and a handful of
 * system calls; nothing here is meant for a hot path.
 *
 * <p>Reads that go beyond the calling thread's own TCB header (the DTV, another thread's TCB, a scan)
 * go through {@code /proc/self/mem}, where a wrong address is an EIO and not a SIGSEGV that would kill
 * the JVM.
 */
public final class Tls {
    private static final long UNALLOCATED = -1L;
    private static final long SCAN_MAPPING_LIMIT = 4L << 20;
    private static final long SCAN_BUDGET = 64L << 20;
    private static final int MAX_ATTEMPTS = 4;

    private Tls() {
    }

    /**
     * The calling thread's map. On a virtual thread this is its carrier's: the thread pointer is the
     * carrier's fs_base. Should the virtual thread move to another carrier during the computation (it
     * cannot while pkrseq holds no lock and does no blocking I/O, but the check is cheap), the map is
     * computed again.
     *
     * @return the map
     * @throws UnsupportedOperationException on architectures other than x86_64, or without glibc
     */
    public static TlsLayout current() {
        requireSupported();
        TlsStaticInfo info = Sys.tlsStaticInfo().orElseThrow();
        for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
            ThreadIdentity id = ThreadIdentity.current();
            long tp = Sys.threadPointer();
            // tp..tp+24 is this thread's own tcbhead_t: always mapped while the thread runs.
            MemorySegment head = Sys.memory(tp, 24);
            long tcbWord = head.get(JAVA_LONG, 0);
            long dtv = head.get(JAVA_LONG, 8);
            long self = head.get(JAVA_LONG, 16);
            List<Vma> vmas = Smaps.self();
            List<ElfModule> elf = Sys.loadedModules();
            long errno = Sys.errnoLocation();
            if (Sys.threadPointer() != tp || Sys.gettid() != id.tid()) {
                continue;
            }
            TcbSize tcb = TcbSize.derive(tp, Smaps.containing(vmas, tp), info.align(), Sys.pageSize(), rseqOffset());
            Placement.Kind kind = tcb.method() == TcbSize.Method.STACK_MAPPING_END ? Placement.Kind.STACK_TOP
                    : id.initialThread() ? Placement.Kind.LOADER : Placement.Kind.OTHER;
            return build(id, tp, tcbWord, self, dtv, info, tcb, vmas, elf, kind, errno, true, null);
        }
        throw new IllegalStateException("the thread kept moving between carriers while its TLS map was computed");
    }

    /**
     * The map of a new platform thread, started for the purpose and joined.
     *
     * @param name the thread's name
     * @return its map
     * @throws InterruptedException when interrupted while waiting for the thread
     */
    public static TlsLayout onPlatformThread(String name) throws InterruptedException {
        return on(Thread.ofPlatform().name(name));
    }

    /**
     * The map seen from a new virtual thread: its carrier's thread pointer and static TLS.
     *
     * @param name the virtual thread's name
     * @return the carrier's map, with {@link ThreadIdentity#virtual()} set and the carrier named
     * @throws InterruptedException when interrupted while waiting for the thread
     */
    public static TlsLayout onVirtualThread(String name) throws InterruptedException {
        return on(Thread.ofVirtual().name(name));
    }

    /**
     * Retags the calling thread's static TLS with a key by the seed's rule: exactly
     * {@link TlsLayout#pages()}, page by page, and the DTV page when it lies apart and the options ask for
     * it; each page's report says tagged, not mapped or failed. {@link TlsRetag#restore()} puts key 0 back
     * on exactly those pages. The thread keeps read-write rights for the key, and pkrseq refuses to deny
     * them while the pages carry it.
     *
     * <p><b>This can kill the JVM</b>: a signal delivered to the thread, an implicit null check, a
     * safepoint poll in compiled code, or another thread touching these pages while they carry the key
     * ends the process. Read {@link TlsRetag} before calling it; pkrseq's own commands call it only in a
     * child JVM.
     *
     * @param key an open key other than key 0, for which the calling thread has read-write rights
     * @param hazard {@link Hazard#MAY_KILL_THIS_JVM}: the caller accepts that the JVM may die
     * @param options for a DTV page apart from the range, {@link TlsRetag.Option#WITHOUT_DTV_PAGE} or
     *     {@link TlsRetag.Option#WITH_SHARED_DTV_PAGE} (without either it is refused); and
     *     {@link TlsRetag.Option#SIGNALS_UNBLOCKED}
     * @return the retag; restore it on this thread
     * @throws IllegalArgumentException without the hazard, for contradicting options, or for key 0
     * @throws SharedDtvPageException when the DTV page lies apart and no option says what to do with it
     * @throws IllegalStateException when the thread's rights for the key deny access, or its TLS is retagged
     *     already
     * @throws dev.pkrseq.pkey.PkeyMisuseException for a closed key or on a virtual thread
     * @throws dev.pkrseq.pkey.PkeysUnavailableException where protection keys do not work
     * @throws UnsupportedOperationException on architectures other than x86_64, or without glibc
     */
    public static TlsRetag retag(ProtectionKey key, Hazard hazard, TlsRetag.Option... options) {
        return TlsRetag.retag(key, current(), hazard, options);
    }

    /**
     * {@link #retag(ProtectionKey, Hazard, TlsRetag.Option...)} with a map computed earlier on this thread, so
     * that repeated retags cost only their system calls.
     *
     * @param key an open key other than key 0, for which the calling thread has read-write rights
     * @param layout {@link #current()}, computed on the calling thread
     * @param hazard {@link Hazard#MAY_KILL_THIS_JVM}: the caller accepts that the JVM may die
     * @param options as for {@link #retag(ProtectionKey, Hazard, TlsRetag.Option...)}
     * @return the retag; restore it on this thread
     * @throws IllegalArgumentException without the hazard, for contradicting options, key 0, or a map of
     *     another thread
     * @throws SharedDtvPageException when the DTV page lies apart and no option says what to do with it
     * @throws IllegalStateException when the thread's rights for the key deny access, or its TLS is retagged
     *     already
     */
    public static TlsRetag retag(ProtectionKey key, TlsLayout layout, Hazard hazard, TlsRetag.Option... options) {
        return TlsRetag.retag(key, layout, hazard, options);
    }

    private static TlsLayout on(Thread.Builder builder) throws InterruptedException {
        requireSupported();
        AtomicReference<TlsLayout> result = new AtomicReference<>();
        AtomicReference<RuntimeException> failure = new AtomicReference<>();
        Thread t = builder.start(() -> {
            try {
                result.set(current());
            } catch (RuntimeException e) {
                failure.set(e);
            }
        });
        t.join();
        if (failure.get() != null) {
            throw failure.get();
        }
        return result.get();
    }

    /**
     * Finds the process's initial thread ({@code tid == pid}), the thread the dynamic loader set up and
     * the seed's case, and computes its map without running on it.
     *
     * <p>Method: the calling thread's own TCB tells at which offsets {@code struct pthread} holds the
     * thread's tid. pkrseq then reads, through {@code /proc/self/mem}, the small anonymous read-write
     * mappings of the process (smallest first, at most 64 MiB in all) and looks for a 64-byte aligned
     * address A whose words at A and A+16 are A (glibc's {@code tcbhead_t.tcb} and {@code self}) and whose
     * tid field holds the pid. Only such a match is reported; otherwise the result says why not. The
     * initial thread's module blocks come from its own DTV.
     *
     * @return what was found; {@link InitialThread#layout()} is null when the thread was not found
     */
    public static InitialThread initialThread() {
        TlsLayout self = current();
        int pid = self.thread().pid();
        Optional<String> state = Task.state(pid);
        Optional<String> syscall = Task.syscall(pid);
        if (self.thread().initialThread()) {
            return new InitialThread(pid, self, "the calling thread is the initial thread", state.orElse(null),
                    syscall.orElse(null), null);
        }
        if (!Task.exists(pid)) {
            return new InitialThread(pid, null, "the initial thread has exited", null, null, null);
        }
        List<Integer> tidOffsets = tidOffsets(self);
        if (tidOffsets.isEmpty()) {
            return new InitialThread(pid, null, "this thread's tid is not in its own TCB, so another TCB cannot be recognised",
                    state.orElse(null), syscall.orElse(null), null);
        }
        try (SelfMemory mem = SelfMemory.open()) {
            long[] hit = scan(mem, self.snapshot(), pid, tidOffsets, self.threadPointer());
            if (hit == null) {
                return new InitialThread(pid, null, "no TCB with self pointers and tid " + pid
                        + " in the small anonymous mappings", state.orElse(null), syscall.orElse(null), null);
            }
            long a = hit[0];
            long dtv = mem.word(a + 8).orElse(0);
            String name = Task.comm(pid).orElse("");
            ThreadIdentity id = new ThreadIdentity(name, pid, pid, false, null);
            TlsStaticInfo info = new TlsStaticInfo(self.staticSize(), self.staticAlign());
            TlsLayout layout = build(id, a, a, a, dtv, info, self.tcb().forAnotherThread(), self.snapshot(), Sys.loadedModules(),
                    Placement.Kind.LOADER, null, false, mem);
            return new InitialThread(pid, layout, "found by scan: words at A and A+16 equal A, and the tid field (offset "
                    + hit[1] + ") holds the pid", state.orElse(null), syscall.orElse(null), hit[1]);
        }
    }

    private static List<Integer> tidOffsets(TlsLayout self) {
        MemorySegment tcb = Sys.memory(self.threadPointer(), self.tcbSize());
        int tid = self.thread().tid();
        List<Integer> out = new ArrayList<>();
        for (int off = 24; off + 4 <= self.tcbSize(); off += 4) {
            if (tcb.get(JAVA_INT, off) == tid) {
                out.add(off);
            }
        }
        return out;
    }

    private static long[] scan(SelfMemory mem, List<Vma> vmas, int pid, List<Integer> tidOffsets, long ownTp) {
        List<Vma> candidates = vmas.stream()
                .filter(v -> v.perms().startsWith("rw") && v.key() == 0 && v.size() <= SCAN_MAPPING_LIMIT && !v.contains(ownTp))
                .filter(v -> v.path().isEmpty() || v.path().startsWith("[anon:") || v.path().equals("[heap]"))
                .sorted(Comparator.comparingLong(Vma::size))
                .toList();
        long budget = SCAN_BUDGET;
        for (Vma v : candidates) {
            if (v.size() > budget) {
                break;
            }
            budget -= v.size();
            ByteBuffer b = mem.read(v.start(), (int) v.size());
            if (b == null) {
                continue;
            }
            for (long a = TcbSize.roundUp(v.start(), TcbSize.TCB_ALIGNMENT); a + 24 <= v.end(); a += TcbSize.TCB_ALIGNMENT) {
                int off = (int) (a - v.start());
                if (b.getLong(off) != a || b.getLong(off + 16) != a) {
                    continue;
                }
                for (int t : tidOffsets) {
                    if (off + t + 4 <= b.limit() && b.getInt(off + t) == pid) {
                        return new long[] {a, t};
                    }
                }
            }
        }
        return null;
    }

    static TlsLayout build(ThreadIdentity id, long tp, long tcbWord, long self, long dtv, TlsStaticInfo info, TcbSize tcb,
            List<Vma> vmas, List<ElfModule> elf, Placement.Kind kind, Long errno, boolean calling, SelfMemory reader) {
        long pageSize = Sys.pageSize();
        long low = tp - (info.size() - tcb.bytes());
        long high = tp + tcb.bytes();
        boolean ownReader = reader == null;
        SelfMemory mem = ownReader ? openQuietly() : reader;
        try {
            long dtvLength = 0;
            if (mem != null) {
                dtvLength = mem.dtvSlots(dtv);
            }
            String exe = executable();
            List<TlsModule> modules = new ArrayList<>();
            for (ElfModule m : elf) {
                if (m.tls() == null) {
                    continue;
                }
                long modid = m.tlsModuleId();
                long val = 0;
                long toFree = 0;
                TlsModule.DtvState state;
                if (mem == null || dtvLength == 0) {
                    state = TlsModule.DtvState.UNREADABLE;
                } else if (modid > dtvLength) {
                    state = TlsModule.DtvState.NOT_IN_DTV;
                } else {
                    OptionalLong v = mem.word(dtv + 16 * modid);
                    OptionalLong f = mem.word(dtv + 16 * modid + 8);
                    if (v.isEmpty() || f.isEmpty()) {
                        state = TlsModule.DtvState.UNREADABLE;
                    } else {
                        val = v.getAsLong();
                        toFree = f.getAsLong();
                        state = val == UNALLOCATED || val == 0 ? TlsModule.DtvState.UNALLOCATED
                                : toFree == 0 ? TlsModule.DtvState.STATIC : TlsModule.DtvState.DYNAMIC;
                    }
                }
                // The calling thread has dlpi_tls_data; for a thread pkrseq only looks at, the DTV entry is the block.
                long block = calling ? m.tlsBlock()
                        : state == TlsModule.DtvState.STATIC || state == TlsModule.DtvState.DYNAMIC ? val : 0;
                long size = m.tls().memorySize();
                boolean inStatic = block != 0 && Long.compareUnsigned(block, low) >= 0
                        && Long.compareUnsigned(block + size, high) <= 0;
                Vma where = block == 0 ? null : Smaps.containing(vmas, block).orElse(null);
                String path = m.path().isEmpty() ? exe : m.path();
                String name = path.substring(path.lastIndexOf('/') + 1);
                modules.add(new TlsModule(name, path, modid, size, m.tls().align(), block, inStatic, state, where, tp, pageSize));
            }
            Vma mapping = Smaps.containing(vmas, tp).orElseThrow(
                    () -> new IllegalStateException("no mapping holds the thread pointer 0x" + Long.toHexString(tp)));
            return new TlsLayout(id, tp, tcbWord, self, dtv, dtvLength, info.size(), info.align(), tcb, pageSize,
                    modules, Placement.of(kind, mapping, vmas), errno, vmas);
        } finally {
            if (ownReader && mem != null) {
                mem.close();
            }
        }
    }

    private static SelfMemory openQuietly() {
        try {
            return SelfMemory.open();
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static String executable() {
        try {
            return Files.readSymbolicLink(Path.of("/proc/self/exe")).toString();
        } catch (IOException e) {
            return "main program";
        }
    }

    private static OptionalLong rseqOffset() {
        return Sys.longSymbol("__rseq_offset");
    }

    private static void requireSupported() {
        if (!Syscall.architectureSupported()) {
            throw new UnsupportedOperationException("the TLS map is implemented for x86_64 only, not " + Syscall.architecture());
        }
        if (Sys.tlsStaticInfo().isEmpty()) {
            throw new UnsupportedOperationException(
                    "the C library does not export _dl_get_tls_static_info: the TLS map needs glibc");
        }
    }
}
