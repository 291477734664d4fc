package dev.pkrseq.pkey;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import dev.pkrseq.proc.Vma;
import dev.pkrseq.sys.Errno;
import dev.pkrseq.sys.NativeException;
import dev.pkrseq.sys.Sys;

/**
 * A protection key this JVM owns: allocated with {@link #allocate(Rights)}, freed with {@link #close()}.
 *
 * <p>A key does two things. It <em>tags</em> pages ({@link #protect}, {@link #tagPages}): the kernel
 * records the key in each page's mapping, visible in smaps as {@code ProtectionKey:}. And each thread
 * holds its own <em>rights</em> for it in PKRU ({@link #rights()}, {@link #setRights}, {@link #withRights}):
 * a thread whose rights deny access faults on the key's pages, and the kernel's copies to and from them
 * on that thread's behalf fail with EFAULT.
 *
 * <p>Rights belong to the calling thread only. pkey_alloc gives the allocating thread the initial
 * rights; threads that already exist keep the default for that key, which denies access; threads
 * created later inherit their creator's PKRU.
 *
 * <p>Guards: the methods refuse, with a {@link PkeyMisuseException} subclass and before any native
 * call, to deny key 0 ({@link KeyZeroException}), to use a closed key ({@link KeyClosedException}), to
 * tag memory that is not the caller's alone ({@link UntaggableSegmentException}), to touch PKRU from a
 * virtual thread ({@link VirtualThreadException}), to deny a key that tags the calling thread's stack,
 * TCB and static TLS, or DTV ({@link ThreadMemoryTaggedException}), and to free a key that pages still carry
 * ({@link KeyInUseException}). The last two know the pages this library tagged; pages tagged with raw
 * {@link Sys#pkeyMprotect} calls are outside their view, except that {@link #close()} confirms with
 * smaps.
 *
 * <p>Costs: {@link #rights()} and {@link #setRights} are one critical downcall each (glibc's pkey_get and
 * pkey_set, tens of nanoseconds); tagging is one system call per call or per page; {@link #close()}
 * reads /proc/self/smaps when the key ever tagged memory.
 */
public final class ProtectionKey implements AutoCloseable {
    /**
     * Key 0, the default key: every page nobody tagged carries it. It can tag memory (that is how pages
     * are handed back) and be given read-write rights, but never be denied or freed.
     */
    public static final ProtectionKey DEFAULT = new ProtectionKey(0);

    private final int number;
    private volatile boolean closed;
    /** Set before the first tagging call: from then on, close() asks smaps and the stack guard looks. */
    private volatile boolean tagged;

    ProtectionKey(int number) {
        this.number = number;
    }

    /** A key object in a given state without any native call: for tests of the closed-key guard. */
    ProtectionKey(int number, boolean closed) {
        this.number = number;
        this.closed = closed;
    }

    /**
     * Allocates a key ({@code pkey_alloc(0, rights)}) and gives the calling thread the initial rights.
     *
     * @param initial the calling thread's rights for the new key
     * @return the key, 1 to 15
     * @throws VirtualThreadException on a virtual thread (pkey_alloc writes the carrier's PKRU)
     * @throws PkeysUnavailableException where protection keys do not work
     * @throws NativeException ENOSPC when every key is taken
     */
    public static ProtectionKey allocate(Rights initial) {
        VirtualThreadException.check("allocate a protection key");
        Pkeys.requirePkru();
        return new ProtectionKey(Sys.pkeyAlloc(0, initial.bits()));
    }

    /**
     * The key's number.
     *
     * @return 0 for {@link #DEFAULT}, 1 to 15 for an allocated key (also after close)
     */
    public int number() {
        return number;
    }

    /**
     * Whether the key is still allocated by this object.
     *
     * @return false after {@link #close()}
     */
    public boolean isOpen() {
        return !closed;
    }

    /**
     * The calling thread's rights for this key ({@code pkey_get}, a critical downcall).
     *
     * @return the rights
     * @throws KeyClosedException when the key is closed
     * @throws VirtualThreadException on a virtual thread
     * @throws PkeysUnavailableException where protection keys do not work
     */
    public Rights rights() {
        checkOpen("read its rights");
        VirtualThreadException.check("read PKRU");
        Pkeys.requirePkru();
        return Rights.ofBits(Sys.pkeyGet(number));
    }

    /**
     * Sets the calling thread's rights for this key ({@code pkey_set}, a critical downcall). Other threads
     * keep theirs.
     *
     * @param rights the new rights
     * @throws KeyClosedException when the key is closed
     * @throws KeyZeroException when denying key 0
     * @throws VirtualThreadException on a virtual thread
     * @throws ThreadMemoryTaggedException when denying a key that tags this thread's stack, TLS or DTV
     * @throws PkeysUnavailableException where protection keys do not work
     */
    public void setRights(Rights rights) {
        checkChange(rights);
        Sys.pkeySet(number, rights.bits());
    }

    /**
     * Sets the calling thread's rights for this key until the returned scope closes, which puts back the
     * exact rights the thread had before, also when the block ends by an exception:
     * {@code try (var s = key.withRights(Rights.NO_ACCESS)) { ... }}. Close the scope on the thread that
     * opened it.
     *
     * @param rights the rights inside the scope
     * @return the scope
     * @throws KeyClosedException when the key is closed
     * @throws KeyZeroException when denying key 0
     * @throws VirtualThreadException on a virtual thread
     * @throws ThreadMemoryTaggedException when denying a key that tags this thread's stack, TLS or DTV
     * @throws PkeysUnavailableException where protection keys do not work
     */
    public RightsScope withRights(Rights rights) {
        checkChange(rights);
        int previous = Sys.pkeyGet(number);
        Sys.pkeySet(number, rights.bits());
        return new RightsScope(this, rights, previous);
    }

    /**
     * Tags a segment's pages with this key and sets their protection, in one {@code pkey_mprotect} call.
     * Over a range with an unmapped page the call fails with ENOMEM; the kernel has then already changed
     * the mapped pages before the hole ({@link #tagPages} tags page by page instead).
     *
     * @param segment native, page-aligned, a whole number of pages, arena alive
     * @param prot {@code Sys.PROT_*} bits, for example {@code PROT_READ | PROT_WRITE}
     * @throws KeyClosedException when the key is closed
     * @throws UntaggableSegmentException for a heap, unaligned, partial-page or closed segment
     * @throws NativeException ENOMEM over a hole, EINVAL for a bad protection or a key the kernel does not
     *     know
     */
    public void protect(MemorySegment segment, int prot) {
        checkOpen("tag memory");
        checkSegment(segment, "tag");
        long start = segment.address();
        long end = start + segment.byteSize();
        tagged = true;
        try {
            Sys.pkeyMprotect(start, segment.byteSize(), prot, number);
        } catch (NativeException e) {
            TagRegistry.refresh(start, end);
            throw e;
        }
        TagRegistry.assign(start, end, number);
    }

    /**
     * Tags a segment page by page, one {@code pkey_mprotect} per page, and reports each page: tagged, not
     * mapped (ENOMEM) or failed (another errno). A hole stops only itself.
     *
     * @param segment native, page-aligned, a whole number of pages, arena alive
     * @param prot {@code Sys.PROT_*} bits
     * @return the per-page report
     * @throws KeyClosedException when the key is closed
     * @throws UntaggableSegmentException for a heap, unaligned, partial-page or closed segment
     */
    public PageWalk tagPages(MemorySegment segment, int prot) {
        checkOpen("tag memory");
        checkSegment(segment, "tag");
        long page = Pages.size();
        long start = segment.address();
        long n = segment.byteSize() / page;
        List<PageWalk.Page> out = new ArrayList<>((int) Math.min(n, 1 << 20));
        tagged = true;
        for (long i = 0; i < n; i++) {
            long a = start + i * page;
            try {
                Sys.pkeyMprotect(a, page, prot, number);
                TagRegistry.assign(a, a + page, number);
                out.add(new PageWalk.Page(a, PageWalk.Status.TAGGED, null));
            } catch (NativeException e) {
                PageWalk.Status s = e.errno() == Errno.ENOMEM ? PageWalk.Status.NOT_MAPPED : PageWalk.Status.FAILED;
                out.add(new PageWalk.Page(a, s, e.errno()));
            }
        }
        return new PageWalk(number, prot, out);
    }

    /**
     * The mappings of this JVM that carry this key now, from /proc/self/smaps.
     *
     * @return the mappings, in address order; empty where the kernel does not report keys
     */
    public List<Vma> mappings() {
        return Pkeys.mappingsCarrying(number);
    }

    /**
     * Frees the key ({@code pkey_free}). Closing twice does nothing the second time. Refused while pages
     * carry the key: unmap them or retag them with {@link #DEFAULT} first.
     *
     * <p>pkey_free leaves PKRU alone, so the closing thread would keep its rights for the number and with
     * them the pages of whoever allocates it next. Before freeing, close therefore sets the calling thread's
     * rights for the key to no-access, the default a fresh key has in every thread that did not allocate
     * it (on a platform thread; a virtual thread's PKRU is its carrier's and is left alone). Other threads
     * that were given rights keep them: take them back on those threads first.
     *
     * @throws KeyInUseException when pages still carry the key; the key stays open
     * @throws KeyZeroException for {@link #DEFAULT}
     */
    @Override
    public void close() {
        if (number == 0) {
            throw KeyZeroException.free();
        }
        synchronized (this) {
            if (closed) {
                return;
            }
            if (tagged) {
                List<Vma> carrying = mappings();
                if (!carrying.isEmpty()) {
                    throw new KeyInUseException(number, carrying);
                }
                TagRegistry.clear(number);
            }
            closed = true;
            if (Sys.pkruUsable() && !Thread.currentThread().isVirtual()) {
                Sys.pkeySet(number, Sys.PKEY_DISABLE_ACCESS);
            }
            Sys.pkeyFree(number);
        }
    }

    @Override
    public String toString() {
        return "ProtectionKey[" + number + (closed ? ", closed]" : "]");
    }

    private void checkOpen(String action) {
        if (closed) {
            throw new KeyClosedException(number, action);
        }
    }

    private void checkChange(Rights rights) {
        checkOpen("set its rights");
        if (number == 0 && rights.denies()) {
            throw KeyZeroException.deny(rights);
        }
        VirtualThreadException.check("change PKRU");
        if (rights.denies() && tagged) {
            for (ThreadMemory.Area a : ThreadMemory.current()) {
                long[] hit = TagRegistry.overlap(number, a.low(), a.high());
                if (hit != null) {
                    throw new ThreadMemoryTaggedException(number, rights, Math.max(hit[0], a.low()),
                            Math.min(hit[1], a.high()), a.what(), a.low(), a.high(), a.consequence());
                }
            }
        }
        Pkeys.requirePkru();
    }

    static void checkSegment(MemorySegment segment, String action) {
        if (!segment.isNative()) {
            throw UntaggableSegmentException.heap(action);
        }
        if (!segment.scope().isAlive()) {
            throw UntaggableSegmentException.closed(action);
        }
        long page = Pages.size();
        if ((segment.address() & (page - 1)) != 0) {
            throw UntaggableSegmentException.unaligned(action, segment.address());
        }
        if (segment.byteSize() == 0 || (segment.byteSize() & (page - 1)) != 0) {
            throw UntaggableSegmentException.partialPages(action, segment.byteSize());
        }
    }
}
