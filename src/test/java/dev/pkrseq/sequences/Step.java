package dev.pkrseq.sequences;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

import dev.pkrseq.pkey.Rights;

/**
 * One operation of a random sequence, run on one of the sequence's worker threads. Operations name keys,
 * regions and pages by index ({@code k2}, {@code r0}, {@code p1}): the index is taken modulo what exists
 * when the step runs, so any generated or shrunk sequence stays meaningful; {@code kD} is key 0
 * ({@link dev.pkrseq.pkey.ProtectionKey#DEFAULT}).
 *
 * <p>The text form is one line, for example {@code t1 protect k0 r2 rw}; {@link #parse} reads it back, so
 * a child JVM can journal each sequence before it runs it, and a sequence found by a failure can be
 * replayed.
 *
 * @param thread the worker that runs it, 0 to 3
 * @param kind what it does
 * @param key a key index, -1 for key 0
 * @param region a region index
 * @param page a page index within the region
 * @param arg the kind's argument: rights, page count, region kind, protection, misuse kind
 */
record Step(int thread, Kind kind, int key, int region, int page, String arg) {

    /** The operations. */
    enum Kind {
        /** {@code ProtectionKey.allocate(rights)}. */
        ALLOC,
        /** {@code key.close()}. */
        FREE,
        /** {@code key.setRights(rights)}. */
        RIGHTS,
        /** {@code key.withRights(rights)}, probed inside, closed. */
        SCOPED,
        /** {@code key.rights()}. */
        GET,
        /** Map a region: {@code raw} (mmap, page-wise munmap) or {@code arena} (Pages.allocate, closed whole). */
        MAP,
        /** Unmap one page of a raw region, or close an arena region. */
        UNMAP,
        /**
         * {@code key.protect(region, prot)}: one pkey_mprotect; {@code rw!} or {@code r!} with
         * {@code Hazard.MAY_KILL_THIS_JVM}, which raw regions need.
         */
        PROTECT,
        /** {@code key.tagPages(region, prot)}: the page walk; {@code !} as for PROTECT. */
        WALK,
        /**
         * A refused tagging: {@code heap}, {@code unaligned}, {@code partial}, {@code malloc} (Arena.allocate
         * memory) or {@code alias} (the region through a segment of the global scope).
         */
        MISUSE,
        /** The kernel's read and write of one page for this thread ({@code AccessProbe}). */
        PROBE,
        /** A Java read (and write where allowed) of one page: forked runs only, it would fault if wrong. */
        TOUCH,
        /** {@code Rseq.register()}. */
        REGISTER,
        /** {@code Rseq.unregister()}. */
        UNREGISTER,
        /** {@code Rseq.cpuId()}. */
        CPU,
        /** {@code key.setRights(READ_WRITE)} from a virtual thread. */
        VTHREAD;

        String word() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    static Step of(int thread, Kind kind, int key, int region, int page, String arg) {
        return new Step(thread, kind, key, region, page, arg);
    }

    static Rights rights(String arg) {
        return Arrays.stream(Rights.values()).filter(r -> r.toString().equals(arg)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("rights " + arg));
    }

    @Override
    public String toString() {
        String k = key < 0 ? "kD" : "k" + key;
        return "t" + thread + " " + kind.word() + switch (kind) {
            case ALLOC -> " " + arg;
            case FREE, GET -> " " + k;
            case RIGHTS, SCOPED -> " " + k + " " + arg;
            case MAP -> " " + arg + " " + page;
            case UNMAP, PROBE, TOUCH -> " r" + region + " p" + page;
            case PROTECT, WALK -> " " + k + " r" + region + " " + arg;
            case MISUSE -> " " + arg + " " + k + " r" + region;
            case REGISTER, UNREGISTER, CPU -> "";
            case VTHREAD -> " " + k;
        };
    }

    /** Reads the text form back. */
    static Step parse(String text) {
        List<String> w = List.of(text.strip().split(" "));
        int t = Integer.parseInt(w.get(0).substring(1));
        Kind kind = Kind.valueOf(w.get(1).toUpperCase(Locale.ROOT));
        return switch (kind) {
            case ALLOC -> of(t, kind, 0, 0, 0, w.get(2));
            case FREE, GET, VTHREAD -> of(t, kind, key(w.get(2)), 0, 0, "");
            case RIGHTS, SCOPED -> of(t, kind, key(w.get(2)), 0, 0, w.get(3));
            case MAP -> of(t, kind, 0, 0, Integer.parseInt(w.get(3)), w.get(2));
            case UNMAP, PROBE, TOUCH -> of(t, kind, 0, index(w.get(2)), index(w.get(3)), "");
            case PROTECT, WALK -> of(t, kind, key(w.get(2)), index(w.get(3)), 0, w.get(4));
            case MISUSE -> of(t, kind, key(w.get(3)), index(w.get(4)), 0, w.get(2));
            case REGISTER, UNREGISTER, CPU -> of(t, kind, 0, 0, 0, "");
        };
    }

    private static int key(String word) {
        return word.equals("kD") ? -1 : index(word);
    }

    private static int index(String word) {
        return Integer.parseInt(word.substring(1));
    }
}
