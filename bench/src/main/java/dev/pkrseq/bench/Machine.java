package dev.pkrseq.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import dev.pkrseq.pkey.Pkeys;
import dev.pkrseq.sys.LoaderCalls;
import dev.pkrseq.sys.ThreadCalls;

/**
 * Where a run happened.
 *
 * @param cpu the CPU model from /proc/cpuinfo
 * @param cores online CPUs
 * @param kernel the kernel release
 * @param glibc the glibc version, or "none"
 * @param pkeys whether protection keys worked
 */
public record Machine(String cpu, int cores, String kernel, String glibc, boolean pkeys) {

    /**
     * Describes this machine.
     *
     * @return the machine
     */
    public static Machine current() {
        String cpu = "unknown CPU";
        try {
            cpu = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                    .map(l -> l.substring(l.indexOf(':') + 1).strip()).findFirst().orElse(cpu);
        } catch (IOException e) {
            // keep "unknown CPU": the report says so rather than failing
        }
        return new Machine(cpu, ThreadCalls.onlineCpus(), LoaderCalls.uname().release(), LoaderCalls.glibcVersion().orElse("none"),
                Pkeys.supported());
    }

    /**
     * One line for the report.
     *
     * @param jdk the JDK the benchmarks ran on
     * @return for example {@code AMD EPYC, 2 cores, Linux 6.18.44, glibc 2.36, JDK 25.0.3}
     */
    public String line(String jdk) {
        return cpu + ", " + cores + " cores, Linux " + kernel + ", glibc " + glibc + ", JDK " + jdk
                + (pkeys ? "" : "; no protection keys");
    }
}
