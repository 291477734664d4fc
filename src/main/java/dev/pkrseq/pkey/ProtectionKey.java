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
 * tag memory pkrseq did not map itself or that is not the caller's alone ({@link UntaggableSegmentException};
 * {@link Hazard#MAY_KILL_THIS_JVM} lifts the ownership rule), to touch PKRU from a virtual thread
 * ({@link VirtualThreadException}), to deny a key that tags the calling thread's stack, TCB and static
 * TLS, or DTV ({@link ThreadMemoryTaggedException}), and to free a key that pages still carry
 * ({@link KeyInUseException}). Every PKRU write of this API passes the same checks, in one place. The
 * stack and TLS guard knows the pages this library tagged; pages tagged with raw {@link Sys#pkeyMprotect}
 * calls are outside its view, except that {@link #close()} confirms with smaps.
 *
 * <p><b>Concurrency.</b> Any number of threads may use one key at once, and every call takes effect at
 * one instant between its start and its end (it is linearisable), with these outcomes:
 * <ul>
 *   <li>{@link #close()} and tagging ({@link #protect}, {@link #tagPages}) exclude each other (the key's
 *       monitor): either the tagging came first and close refuses with {@link KeyInUseException}, or close
 *       came first and the tagging refuses with {@link KeyClosedException}. A page never carries a freed
 *       key, and the kernel never sees a freed number from this object.</li>
 *   <li>A rights change ({@link #setRights}, {@link #withRights}, {@link RightsScope#close()}) that overlaps
 *       {@link #close()} on another thread either takes effect while the number is still this key's, or is
 *       refused with {@link KeyClosedException}. It checks the key open, writes PKRU, and checks again (two
 *       volatile reads, no lock: the hot path stays a bare pkey_set plus a few loads); if close won in
 *       between, its write may have reached the freed number, so it takes this thread's rights for the
 *       number away (no-access) before it throws. So no call returns with rights written onto a freed
 *       number. A scope closed after its key closed writes nothing.</li>
 *   <li>What close cannot do: PKRU is per thread and only a thread writes its own, so close takes back
 *       the rights of the closing thread only. Other threads that hold rights for the key when it closes
 *       (given by {@link #setRights}, a still open scope, or inherited from the thread that created them)
 *       keep them for the number, and with them access to the pages of whoever allocates it next. Take them
 *       back on those threads ({@code setRights(NO_ACCESS)}, or close their scopes) before closing.</li>
 *   <li>Tagging a segment of a shared arena that another thread closes: the tagging call holds the arena's
 *       scope while the kernel runs, so either it completes and the arena's close, if it came during the
 *       call, fails with the JDK's IllegalStateException ({@code Session is acquired}), or the close came
 *       first and the tagging refuses ({@link UntaggableSegmentException.Reason#CLOSED}).</li>
 * </ul>
 *
 * <p>Costs: {@link #rights()} and {@link #setRights} are one critical downcall each (glibc's pkey_get and
 * pkey_set, tens of nanoseconds) and a few loads; tagging is one system call per call or per page;
 * {@link #close()} reads /proc/self/smaps when the key ever tagged memory.
 */
public final class ProtectionKey implements AutoCloseable {
    /**
     * Key 0, the default key: every page nobody tagged carries it. It can tag memory (that is how pages
     * are handed back) and be given read-write rights, but never be denied or freed.
     */
    public static final ProtectionKey DEFAULT = new ProtectionKey(0);

    private final int number;
    private volatile boolean closed;
    /** Set (under the monitor) before the first tagging call: from then on, close() asks smaps. */
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
     * @throws KeyClosedException when the key is closed, also when {@link #close()} on another thread won a
     *     race with this call (this thread is then left with no access to the freed number)
     * @throws KeyZeroException when denying key 0
     * @throws VirtualThreadException on a virtual thread
     * @throws ThreadMemoryTaggedException when denying a key that tags this thread's stack, TLS or DTV
     * @throws PkeysUnavailableException where protection keys do not work
     */
    public void setRights(Rights rights) {
        checkOpen("set its rights");
        PkruGate.write(number, rights.bits(), "change PKRU");
        if (closed) {
            throw lostToClose();
        }
    }

    /**
     * Sets the calling thread's rights for this key until the returned scope closes, which puts back the
     * exact rights the thread had before, also when the block ends by an exception:
     * {@code try (var s = key.withRights(Rights.NO_ACCESS)) { ... }}. Close the scope on the thread that
     * opened it.
     *
     * @param rights the rights inside the scope
     * @return the scope
     * @throws KeyClosedException when the key is closed, also when {@link #close()} on another thread won a
     *     race with this call (this thread is then left with no access to the freed number)
     * @throws KeyZeroException when denying key 0
     * @throws VirtualThreadException on a virtual thread
     * @throws ThreadMemoryTaggedException when denying a key that tags this thread's stack, TLS or DTV
     * @throws PkeysUnavailableException where protection keys do not work
     */
    public RightsScope withRights(Rights rights) {
        checkOpen("set its rights");
        int previous = PkruGate.exchange(number, rights.bits(), "change PKRU");
        if (closed) {
            throw lostToClose();
        }
        return new RightsScope(this, rights, previous);
    }

    /**
     * A scope's close: puts the thread's previous bits back while the key is open. A key closed meanwhile
     * owns no number any more, so nothing is written (the closing thread already has no access).
     */
    void restoreRights(int previousBits) {
        if (closed) {
            return;
        }
        PkruGate.write(number, previousBits, "change PKRU");
        if (closed) {
            PkruGate.revoke(number);
        }
    }

    /** A rights write raced close() and may have landed on the freed number: take it back, then refuse. */
    private KeyClosedException lostToClose() {
        PkruGate.revoke(number);
        return new KeyClosedException(number, "set its rights");
    }

    /**
     * Tags a segment's pages with this key and sets their protection, in one {@code pkey_mprotect} call.
     *
     * <p>The segment must be memory pkrseq mapped: {@link Pages#allocate}'s segment or a slice of it. Anything
     * else is refused by what it is ({@link UntaggableSegmentException}); use
     * {@link #protect(MemorySegment, int, Hazard)} to tag it anyway.
     *
     * @param segment pkrseq's pages: page-aligned, a whole number of pages, arena alive
     * @param prot {@code Sys.PROT_*} bits, for example {@code PROT_READ | PROT_WRITE}
     * @throws KeyClosedException when the key is closed
     * @throws UntaggableSegmentException for a heap, closed, unaligned or partial-page segment, or memory
     *     pkrseq did not map
     * @throws NativeException EINVAL for a bad protection, or where the kernel has no protection keys
     * @throws WrongThreadException for a segment of a confined arena that another thread owns
     */
    public void protect(MemorySegment segment, int prot) {
        protect(segment, prot, null);
    }

    /**
     * Tags a segment's pages with this key and sets their protection, in one {@code pkey_mprotect} call,
     * whatever memory they are. Over a range with an unmapped page the call fails with ENOMEM; the kernel
     * has then already changed the mapped pages before the hole ({@link #tagPages} tags page by page
     * instead).
     *
     * <p><b>This can kill the JVM</b> (read {@link Hazard#MAY_KILL_THIS_JVM}): for memory pkrseq did not map,
     * the only checks left are the segment's shape and its arena. pkrseq's own pages are tagged exactly as
     * by {@link #protect(MemorySegment, int)}.
     *
     * @param segment native, page-aligned, a whole number of pages, arena alive
     * @param prot {@code Sys.PROT_*} bits
     * @param hazard {@link Hazard#MAY_KILL_THIS_JVM}; null means the ownership rule applies
     * @throws KeyClosedException when the key is closed
     * @throws UntaggableSegmentException for a heap, closed, unaligned or partial-page segment
     * @throws NativeException ENOMEM over a hole, EINVAL for a bad protection or a key the kernel does not
     *     know
     */
    public void protect(MemorySegment segment, int prot, Hazard hazard) {
        synchronized (this) {
            checkOpen("tag memory");
            checkShape(segment, "tag");
            boolean owned = owned(segment, hazard, "tag");
            tagged = true;
            if (owned) {
                mprotect(segment, prot);
                return;
            }
            long start = segment.address();
            long end = start + segment.byteSize();
            synchronized (TagRegistry.class) {
                try {
                    mprotect(segment, prot);
                } catch (NativeException e) {
                    TagRegistry.refresh(start, end);
                    throw e;
                }
                TagRegistry.assign(start, end, number);
            }
        }
    }

    /**
     * Tags a segment page by page, one {@code pkey_mprotect} per page, and reports each page: tagged, not
     * mapped (ENOMEM) or failed (another errno).
     *
     * <p>The segment must be memory pkrseq mapped, as for {@link #protect(MemorySegment, int)}, and at most
     * {@link PageWalk#MAX_PAGES} pages long.
     *
     * @param segment pkrseq's pages: page-aligned, a whole number of pages, arena alive
     * @param prot {@code Sys.PROT_*} bits
     * @return the per-page report
     * @throws KeyClosedException when the key is closed
     * @throws UntaggableSegmentException for a heap, closed, unaligned, partial-page or too long segment, or
     *     memory pkrseq did not map; {@link UntaggableSegmentException.Reason#CLOSED} also when the arena
     *     closes during the walk (the pages walked so far went with it)
     */
    public PageWalk tagPages(MemorySegment segment, int prot) {
        return tagPages(segment, prot, null);
    }

    /**
     * Tags a segment page by page, whatever memory it is; a hole stops only itself. <b>This can kill the
     * JVM</b>: see {@link #protect(MemorySegment, int, Hazard)}.
     *
     * @param segment native, page-aligned, a whole number of pages, at most {@link PageWalk#MAX_PAGES}, arena
     *     alive
     * @param prot {@code Sys.PROT_*} bits
     * @param hazard {@link Hazard#MAY_KILL_THIS_JVM}; null means the ownership rule applies
     * @return the per-page report
     * @throws KeyClosedException when the key is closed
     * @throws UntaggableSegmentException for a heap, closed, unaligned, partial-page or too long segment
     */
    public PageWalk tagPages(MemorySegment segment, int prot, Hazard hazard) {
        synchronized (this) {
            checkOpen("tag memory");
            checkShape(segment, "tag");
            long page = Pages.size();
            long n = segment.byteSize() / page;
            if (n > PageWalk.MAX_PAGES) {
                throw UntaggableSegmentException.tooManyPages(n);
            }
            boolean owned = owned(segment, hazard, "tag");
            List<PageWalk.Page> out = new ArrayList<>((int) n);
            tagged = true;
            for (long i = 0; i < n; i++) {
                MemorySegment one = segment.asSlice(i * page, page);
                long a = one.address();
                NativeException failed;
                if (owned) {
                    failed = tagOne(one, prot);
                } else {
                    synchronized (TagRegistry.class) {
                        failed = tagOne(one, prot);
                        if (failed == null) {
                            TagRegistry.assign(a, a + page, number);
                        }
                    }
                }
                if (failed == null) {
                    out.add(new PageWalk.Page(a, PageWalk.Status.TAGGED, null));
                } else {
                    PageWalk.Status s = failed.errno() == Errno.ENOMEM ? PageWalk.Status.NOT_MAPPED : PageWalk.Status.FAILED;
                    out.add(new PageWalk.Page(a, s, failed.errno()));
                }
            }
            return new PageWalk(number, prot, out);
        }
    }

    private NativeException tagOne(MemorySegment page, int prot) {
        try {
            mprotect(page, prot);
            return null;
        } catch (NativeException e) {
            return e;
        }
    }

    /** The system call, with the segment itself as argument so that its arena cannot close during it. */
    private void mprotect(MemorySegment segment, int prot) {
        try {
            Sys.pkeyMprotect(segment, prot, number);
        } catch (IllegalStateException e) {
            // The linker could not acquire the segment's scope: its arena closed after the checks.
            throw UntaggableSegmentException.closed("tag");
        }
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
     * that hold rights keep them: take them back on those threads first (see the class comment for what
     * close guarantees under concurrency). Pages in the key's record: smaps, read when the key ever tagged
     * memory, is the judge.
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
            // From here on every rights write through this key is refused, or taken back if it raced this.
            closed = true;
            PkruGate.revoke(number); // skipped on a virtual thread and where PKRU does not exist
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

    /** The segment's shape and arena: checked for every tagging, hazard or not. */
    static void checkShape(MemorySegment segment, String action) {
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

    /**
     * Whether the segment is pkrseq's own pages through their own scope; otherwise refused by what it is,
     * unless the caller took the hazard.
     */
    static boolean owned(MemorySegment segment, Hazard hazard, String action) {
        long start = segment.address();
        long end = start + segment.byteSize();
        OwnedPages.Mapping m = OwnedPages.containing(start, end);
        if (m != null && m.ownedThrough(segment.scope())) {
            return true;
        }
        if (hazard == Hazard.MAY_KILL_THIS_JVM) {
            return false;
        }
        throw NotOwned.refusal(action, start, end);
    }
}
