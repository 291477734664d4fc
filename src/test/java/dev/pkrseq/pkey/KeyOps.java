package dev.pkrseq.pkey;

import java.lang.foreign.MemorySegment;
import java.util.List;

import dev.pkrseq.proc.Vma;
import dev.pkrseq.sys.Sys;

/**
 * The key operations the race tests drive: {@link #real} is the library's {@link ProtectionKey};
 * {@link Broken} is its BROKEN TWIN, the lifecycle as it was before issue 13 (close synchronized, tagging and
 * rights changes unlocked: check, then act; a scope restores its bits whatever happened to the key; tagging
 * passes the raw address after checking that the arena is alive), with the window between check and act
 * widened by a spin so that the race comes up in a few iterations instead of a few million.
 */
interface KeyOps {
    int number();

    void close();

    void protect(MemorySegment segment, int prot);

    PageWalk tagPages(MemorySegment segment, int prot);

    void setRights(Rights rights);

    AutoCloseable withRights(Rights rights);

    static KeyOps real(ProtectionKey key) {
        return new KeyOps() {
            @Override
            public int number() {
                return key.number();
            }

            @Override
            public void close() {
                key.close();
            }

            @Override
            public void protect(MemorySegment segment, int prot) {
                key.protect(segment, prot);
            }

            @Override
            public PageWalk tagPages(MemorySegment segment, int prot) {
                return key.tagPages(segment, prot);
            }

            @Override
            public void setRights(Rights rights) {
                key.setRights(rights);
            }

            @Override
            public AutoCloseable withRights(Rights rights) {
                return key.withRights(rights);
            }
        };
    }

    /** The old logic, kept as a twin the race harness must catch. */
    final class Broken implements KeyOps {
        private final int number;
        private final long window;
        private volatile boolean closed;
        private volatile boolean tagged;

        /**
         * The old logic with a 2 ms window between check and act: longer than the actors' random start offsets
         * (a few microseconds of spinning on hardware, up to a millisecond or so under TCG), so that about every
         * other race overlaps.
         */
        Broken(int number) {
            this(number, 2_000_000);
        }

        /** The old logic with a given window, in nanoseconds, between check and act. */
        Broken(int number, long window) {
            this.number = number;
            this.window = window;
        }

        @Override
        public int number() {
            return number;
        }

        @Override
        public synchronized void close() {
            if (closed) {
                return;
            }
            if (tagged) {
                List<Vma> carrying = Pkeys.mappingsCarrying(number);
                if (!carrying.isEmpty()) {
                    throw new KeyInUseException(number, carrying);
                }
            }
            closed = true;
            Sys.pkeySet(number, Sys.PKEY_DISABLE_ACCESS);
            Sys.pkeyFree(number);
        }

        @Override
        public void protect(MemorySegment segment, int prot) {
            check("tag memory");
            if (!segment.scope().isAlive()) {
                throw UntaggableSegmentException.closed("tag");
            }
            widen();
            tagged = true;
            Sys.pkeyMprotect(segment.address(), segment.byteSize(), prot, number);
        }

        @Override
        public PageWalk tagPages(MemorySegment segment, int prot) {
            check("tag memory");
            widen();
            tagged = true;
            long a = segment.address();
            try {
                Sys.pkeyMprotect(a, Pages.size(), prot, number);
                return new PageWalk(number, prot, List.of(new PageWalk.Page(a, PageWalk.Status.TAGGED, null)));
            } catch (dev.pkrseq.sys.NativeException e) {
                return new PageWalk(number, prot, List.of(new PageWalk.Page(a, PageWalk.Status.FAILED, e.errno())));
            }
        }

        @Override
        public void setRights(Rights rights) {
            check("set its rights");
            widen();
            Sys.pkeySet(number, rights.bits());
        }

        @Override
        public AutoCloseable withRights(Rights rights) {
            check("set its rights");
            int previous = Sys.pkeyGet(number);
            Sys.pkeySet(number, rights.bits());
            return () -> {
                widen();
                Sys.pkeySet(number, previous);
            };
        }

        private void check(String action) {
            if (closed) {
                throw new KeyClosedException(number, action);
            }
        }

        /** The window between check and act that the old code left open, widened. */
        private void widen() {
            long end = System.nanoTime() + window;
            while (System.nanoTime() < end) {
                Thread.onSpinWait();
            }
        }
    }
}
