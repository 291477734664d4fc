package dev.pkrseq.lab.rseq;

import dev.pkrseq.lab.ChildReport;

import java.util.List;

/**
 * Child JVM main for {@link ParamTestTest}'s mm_cid runs, started with glibc's registration turned off:
 * every test type in turn, under pkrseq's own registration, each result printed as
 * {@code <type>.paramtest.key=value} lines. One JVM for all six, to keep the suite's time down.
 */
public final class ParamTestOwnChild {
    private ParamTestOwnChild() {
    }

    /**
     * Runs the given options once per test type.
     *
     * @param args the options, without {@code -T}
     * @throws Exception when a run cannot start
     */
    public static void main(String[] args) throws Exception {
        for (ParamTest.Type t : ParamTest.Type.values()) {
            List<String> a = new java.util.ArrayList<>(List.of("-T", t.toString()));
            a.addAll(List.of(args));
            ParamTest.Result r;
            try {
                r = ParamTest.run(ParamTest.Options.parse(a));
            } catch (RuntimeException e) {
                ChildReport.put(t + ".failed", e);
                continue;
            }
            ParamTest.report(r, t + ".");
        }
    }
}
