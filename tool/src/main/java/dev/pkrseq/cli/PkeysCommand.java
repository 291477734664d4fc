package dev.pkrseq.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

import dev.pkrseq.lab.pkey.KernelPaths;
import dev.pkrseq.lab.pkey.KeyReport;
import dev.pkrseq.lab.pkey.PkeysReport;
import dev.pkrseq.pkey.Pkru;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code pkrseq pkeys}: this thread's PKRU, the free keys, and the memory that carries a key. */
@Command(name = "pkeys", mixinStandardHelpOptions = true,
        description = {"Show this thread's PKRU and the mappings that carry protection keys.",
                "",
                "Decodes PKRU for keys 0 to 15, counts how many keys pkey_alloc hands out now, and lists every "
                        + "mapping of this JVM that carries a non-zero key. With --key N: whether key N is allocated in "
                        + "this process, this thread's rights for it, and the mappings that carry it."})
final class PkeysCommand implements Callable<Integer> {
    @Option(names = "--key", paramLabel = "N", description = "Show one key, 0 to 15, allocated in this process: key 0, the kernel's execute-only key, or "
                    + "a key the embedding program allocated.")
    Integer key;

    @Option(names = "--kernel-paths", description = {"Try each kernel path that reads or writes user memory on this",
            "thread's behalf on a page whose key it denies (no-access, no-write); see docs/depth.md."})
    boolean kernelPaths;

    @Option(names = "--threads", description = {"Every thread of this JVM with its PKRU and its rights to each",
            "allocated key, read by a helper process through ptrace; see docs/depth.md."})
    boolean threads;

    @Option(names = "--with-key", description = {"With --threads: allocate one key read-write on this thread first",
            "(freed after), to show which threads could use a key allocated now."})
    boolean withKey;

    @Mixin
    ReportOutput output;

    @Override
    public Integer call() {
        if (withKey && !threads) {
            throw new UsageException("--with-key goes with --threads");
        }
        if (threads) {
            output.print("pkeys.threads", ThreadsView.census(withKey), ThreadsView::print);
            return 0;
        }
        if (kernelPaths) {
            output.print("pkeys.kernel-paths", KernelPaths.report(), KernelPathsView::print);
            return 0;
        }
        if (key != null) {
            return showKey(key);
        }
        PkeysReport report = PkeysReport.now();
        if (output.json) {
            Json.print(output.out(), "pkeys", Json.nestThread(report));
        } else {
            printText(output.out(), report);
        }
        return 0;
    }

    private int showKey(int n) {
        if (n < 0 || n >= Pkru.KEYS) {
            throw new UsageException("--key " + n + " is out of range: x86 has protection keys 0 to 15");
        }
        KeyReport r = KeyReport.of(n);
        if (!r.allocated()) {
            throw new UsageException("--key " + n + ": protection key " + n + " is not allocated in this process"
                    + (r.supported() ? " (keys allocated now: " + keyList(r) + ")"
                            : ": protection keys are unavailable here, so only key 0 exists"));
        }
        if (output.json) {
            Json.print(output.out(), "pkeys.key", Json.nestThread(r));
        } else {
            printKey(output.out(), r);
        }
        return 0;
    }

    static void printKey(PrintWriter out, KeyReport r) {
        out.println("pkrseq pkeys: protection key " + r.key() + " of this JVM");
        out.println();
        if (!r.supported()) {
            out.println("Protection keys are unavailable here: " + r.reason() + ".");
            out.println("Key 0 is the only key: every page carries it, and every thread may read and write it.");
            out.flush();
            return;
        }
        out.println("Allocated: yes" + (r.key() == 0 ? " (the default key, which every untagged page carries)" : "")
                + "; keys allocated now: " + keyList(r));
        if (r.rights() == null) {
            out.println("Rights: " + r.reason());
        } else {
            out.printf("Rights of thread '%s' (tid %d): %s (access-disable %s, write-disable %s)%n", r.thread(), r.tid(),
                    r.rights(), r.accessDisabled() ? "set" : "-", r.writeDisabled() ? "set" : "-");
        }
        if (!r.smapsShowsKeys()) {
            out.println("Mappings carrying key " + r.key() + ": unknown (this kernel prints no ProtectionKey in smaps)");
        } else if (r.key() == 0) {
            out.println("Mappings carrying key 0: " + r.mappings().size() + " (every mapping not tagged with another key;"
                    + " --json lists them)");
        } else if (r.mappings().isEmpty()) {
            out.println("Mappings carrying key " + r.key() + ": none");
        } else {
            out.println("Mappings carrying key " + r.key() + ": " + r.mappings().size());
            Table maps = new Table("START", "END", "PERMS", "PAGES", "PATH");
            for (PkeysReport.Mapping m : r.mappings()) {
                maps.row(m.start(), m.end(), m.perms(), m.pages(), m.path().isEmpty() ? "[anon]" : m.path());
            }
            maps.print(out, "  ");
        }
        out.flush();
    }

    /** The allocated keys as a list, "[0, 3]": "keys allocated now: 0" would read as none. */
    private static String keyList(KeyReport r) {
        return r.allocatedKeys().stream().map(String::valueOf).collect(Collectors.joining(", ", "[", "]"));
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
