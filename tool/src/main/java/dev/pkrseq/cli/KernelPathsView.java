package dev.pkrseq.cli;

import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import dev.pkrseq.lab.pkey.KernelPaths;
import dev.pkrseq.pkey.Rights;

/** The text of {@code pkrseq pkeys --kernel-paths}: one line per path, one column per right. */
final class KernelPathsView {
    private KernelPathsView() {
    }

    static void print(PrintWriter out, KernelPaths.Report r) {
        out.println("pkrseq pkeys --kernel-paths: what each kernel path does with a page whose key this thread denies");
        out.println();
        if (!r.supported()) {
            out.println("Protection keys are unavailable here: " + r.reason() + ".");
            out.flush();
            return;
        }
        out.println("Kernel " + r.kernel() + ": " + r.rows().size() + " cells, " + r.asExpectedCount()
                + " as the kernel's sources say" + (r.asExpectedCount() == r.rows().size() ? "" : ", "
                        + (r.rows().size() - r.asExpectedCount()) + " not (marked !)"));
        Map<String, Map<Rights, KernelPaths.Row>> byPath = new LinkedHashMap<>();
        for (KernelPaths.Row row : r.rows()) {
            byPath.computeIfAbsent(row.path(), k -> new LinkedHashMap<>()).put(row.rights(), row);
        }
        Table t = new Table("PATH", "CALL", "NO-ACCESS", "NO-WRITE", "WHAT THE KERNEL DOES WITH THE PAGE");
        for (Map<Rights, KernelPaths.Row> cells : byPath.values()) {
            KernelPaths.Row first = cells.values().iterator().next();
            t.row(first.path(), first.call(), cell(cells.get(Rights.NO_ACCESS)), cell(cells.get(Rights.NO_WRITE)),
                    first.access());
        }
        t.print(out, "  ");
        List<KernelPaths.Row> odd = r.rows().stream().filter(x -> !x.asExpected()).toList();
        if (!odd.isEmpty()) {
            out.println();
            out.println("Not as the sources say:");
            for (KernelPaths.Row x : odd) {
                out.println("  " + x.path() + " under " + x.rights() + ": expected " + x.expected() + ", observed "
                        + x.observed() + " (" + x.detail() + ")");
            }
        }
        out.println();
        out.println("ok: the call moved all its bytes; EFAULT and the like: the call failed with that errno;");
        out.println("survived / SIGSEGV: what became of the child JVM that tried it. --json has each cell's detail.");
        out.flush();
    }

    private static String cell(KernelPaths.Row row) {
        if (row == null) {
            return "-";
        }
        return row.asExpected() ? row.observed() : row.observed() + " !";
    }
}
