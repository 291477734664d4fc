package dev.pkrseq.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

import dev.pkrseq.observe.PkeysReport;
import dev.pkrseq.pkey.Pkru;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code pkrseq pkeys}: this thread's PKRU, the free keys, and the memory that carries a key. */
@Command(name = "pkeys", mixinStandardHelpOptions = true,
        description = {"Show the calling thread's PKRU decoded for keys 0 to 15, how many keys pkey_alloc",
                "hands out now, and every mapping of this JVM that carries a non-zero key."})
final class PkeysCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--json", description = "Print one JSON object instead of text.")
    boolean json;

    @Override
    public Integer call() {
        PkeysReport report = PkeysReport.now();
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            Json.print(out, report);
        } else {
            printText(out, report);
        }
        return 0;
    }

    static void printText(PrintWriter out, PkeysReport r) {
        out.println("pkrseq pkeys: protection keys of this JVM");
        out.println();
        if (r.pkru() == null) {
            out.println("Protection keys are unavailable here: " + r.reason() + ".");
            out.flush();
            return;
        }
        out.printf("PKRU of thread '%s' (tid %d): %s%n", r.thread(), r.tid(), r.pkru());
        Table keys = new Table("KEY", "RIGHTS", "ACCESS-DISABLE", "WRITE-DISABLE");
        for (Pkru.KeyRights k : r.keys()) {
            keys.row(k.key(), k.rights(), k.accessDisabled() ? "set" : "-", k.writeDisabled() ? "set" : "-");
        }
        keys.print(out, "  ");
        out.println();
        out.println("Keys allocatable now: " + r.allocatable());
        out.println();
        if (r.mappings().isEmpty()) {
            out.println("Mappings carrying a non-zero key: none");
        } else {
            out.println("Mappings carrying a non-zero key: " + r.mappings().size());
            Table maps = new Table("START", "END", "PERMS", "KEY", "PAGES", "PATH");
            for (PkeysReport.Mapping m : r.mappings()) {
                maps.row(m.start(), m.end(), m.perms(), m.key(), m.pages(), m.path().isEmpty() ? "[anon]" : m.path());
            }
            maps.print(out, "  ");
        }
        out.flush();
    }
}
