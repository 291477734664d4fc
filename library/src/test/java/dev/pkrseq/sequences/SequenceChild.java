package dev.pkrseq.sequences;

import dev.pkrseq.lab.ChildReport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import dev.pkrseq.sys.ThreadCalls;

/**
 * The forked side of {@link OperationSequenceTest}: runs the sequences in a file, one per line, with Java
 * reads and writes of the pages ({@link Step.Kind#TOUCH}) that would kill the JVM if the model or the
 * library were wrong. Before each sequence it journals {@code run <i> <sequence>} to standard output and
 * flushes, so that if the JVM dies, the parent knows which sequence killed it; after it, one
 * {@code outcome <step kind>: <what it gave>} per step and {@code ok <i>},
 * or {@code fail <i> <what>} and stops. It ends with {@code done <count>}.
 */
public final class SequenceChild {
    private SequenceChild() {
    }

    /**
     * Runs the sequences.
     *
     * @param args the file of sequences; a second argument {@code n} makes the JVM die by SIGSEGV while it
     *     runs sequence n, for the test of the crash report
     * @throws Exception when the file cannot be read
     */
    public static void main(String[] args) throws Exception {
        List<String> lines = Files.readAllLines(Path.of(args[0]));
        // Only for the test of the crash report: die by a real SIGSEGV while running sequence <n>.
        int crashAt = args.length > 1 ? Integer.parseInt(args[1]) : -1;
        int done = 0;
        for (int i = 0; i < lines.size(); i++) {
            String text = lines.get(i);
            ChildReport.put("run." + i, text);
            if (i == crashAt) {
                // A Java access to a bad address becomes an InternalError; a signal from the kernel does not.
                ThreadCalls.tgkill(ThreadCalls.getpid(), ThreadCalls.gettid(), ThreadCalls.SIGSEGV);
            }
            try {
                SequenceRunner r = new SequenceRunner(Sequence.parse(text), true, 300);
                r.run();
                for (String o : r.outcomes()) {
                    ChildReport.put("outcome", o);
                }
                ChildReport.put("ok", i);
                done++;
            } catch (Throwable e) {
                ChildReport.put("fail." + i, e);
                break;
            }
        }
        ChildReport.put("done", done);
    }
}
