package dev.pkrseq.cli;

import java.io.PrintWriter;
import java.util.stream.Collectors;

import dev.pkrseq.lab.pkey.ThreadCensus;
import dev.pkrseq.pkey.Pkeys;
import dev.pkrseq.pkey.ProtectionKey;
import dev.pkrseq.pkey.Rights;

/** The text of {@code pkrseq pkeys --threads}: one line per thread of this JVM, one column per allocated key. */
final class ThreadsView {
    private ThreadsView() {
    }

    /** The census, with a key allocated read-write on this thread for its duration when asked and possible. */
    static ThreadCensus.Census census(boolean withKey) {
        if (!withKey || !Pkeys.supported()) {
            return ThreadCensus.take();
        }
        try (ProtectionKey _ = ProtectionKey.allocate(Rights.READ_WRITE)) {
            return ThreadCensus.take();
        }
    }

    static void print(PrintWriter out, ThreadCensus.Census c) {
        out.println("pkrseq pkeys --threads: every thread of this JVM (pid " + c.pid() + ") and its rights to each"
                + " allocated key");
        out.println();
        out.println("Read by: " + c.helper());
        if (!c.supported()) {
            out.println("PKRU could not be read: " + c.reason() + ".");
        } else {
            out.println("Keys allocated now: " + c.keys().stream().map(String::valueOf).collect(Collectors.joining(", "))
                    + "; PKRU at offset " + c.pkruOffset() + " of the XSAVE area; this thread (tid " + c.callerTid()
                    + ") reads its own PKRU as " + c.callerPkru());
        }
        out.println();
        String[] headers = new String[4 + (c.supported() ? c.keys().size() : 1)];
        headers[0] = "TID";
        headers[1] = "NAME";
        headers[2] = "KIND";
        headers[3] = "PKRU";
        if (c.supported()) {
            for (int i = 0; i < c.keys().size(); i++) {
                headers[4 + i] = "KEY " + c.keys().get(i);
            }
        } else {
            headers[4] = "WHY NOT";
        }
        Table t = new Table(headers);
        for (ThreadCensus.ThreadRights r : c.threads()) {
            Object[] cells = new Object[headers.length];
            cells[0] = r.tid();
            cells[1] = r.name();
            cells[2] = r.kind();
            cells[3] = r.pkru() == null ? "-" : r.pkru();
            if (c.supported()) {
                for (int i = 0; i < c.keys().size(); i++) {
                    Rights x = r.rights().get(c.keys().get(i));
                    cells[4 + i] = x == null ? (r.error() == null ? "-" : "?") : x;
                }
            } else {
                cells[4] = r.error() == null ? "-" : r.error();
            }
            t.row(cells);
        }
        t.print(out, "  ");
        if (c.supported()) {
            c.threads().stream().filter(r -> r.error() != null)
                    .forEach(r -> out.println("  tid " + r.tid() + ": " + r.error()));
        }
        out.flush();
    }
}
