package dev.pkrseq.cli;

import java.io.PrintWriter;
import java.util.function.BiConsumer;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The {@code --json} switch of the commands that print one report, with the command they are mixed into,
 * whose streams the report goes to.
 */
final class ReportOutput {
    /** The command this is mixed into (not the mixin's own spec): its name and streams. */
    @Spec(Spec.Target.MIXEE)
    CommandSpec spec;

    @Option(names = "--json", description = "Print one JSON object instead of text.")
    boolean json;

    /** The command's standard output. */
    PrintWriter out() {
        return spec.commandLine().getOut();
    }

    /** Prints the report as one JSON object of the given kind with {@code --json}, else as {@code text} renders it. */
    <T> void print(String kind, T report, BiConsumer<PrintWriter, ? super T> text) {
        Json.printOr(out(), json, kind, report, text);
    }
}
