package dev.pkrseq.cli;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import dev.pkrseq.lab.ChildReport;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;

import dev.pkrseq.lab.ChildJvm;
import dev.pkrseq.Errno;

/**
 * A JVM that denies itself the rseq system call with a real seccomp filter, then runs pkrseq commands in
 * child JVMs, which inherit the filter from their first instruction: glibc's own registration fails in
 * them as it would in a container whose profile refuses rseq.
 *
 * <p>The filter answers {@code rseq} (334 on x86_64) with the errno named on the command line and allows
 * every other call. Installing a filter is no business of the library, so this test code calls
 * {@code prctl} and {@code seccomp} through the FFM API itself rather than through {@code dev.pkrseq.sys}.
 *
 * <p>Only one thread of this JVM takes the filter, and it creates no thread: glibc 2.35+ aborts the
 * process ("Fatal glibc error: rseq registration failed") when a thread created by a registered thread
 * fails to register. Processes it spawns inherit the filter; the JDK's process reaper thread is made
 * beforehand, by a first process started without it.
 *
 * <p>Arguments: the errno name, then commands separated by {@code ;}. For command {@code i} it prints
 * {@code cmd.i.exit=}, {@code cmd.i.out=} and {@code cmd.i.err=}, the streams in base64.
 */
@SuppressWarnings("restricted")
public final class DenyRseq {
    /** {@code __NR_rseq} on x86_64; the filter allows every other architecture, so one number is all it needs. */
    private static final int NR_RSEQ_X86_64 = 334;
    /** seccomp(2) on x86_64; the library's system call table has no use for it. */
    private static final long SYS_SECCOMP = 317;
    private static final int PR_SET_NO_NEW_PRIVS = 38, SECCOMP_SET_MODE_FILTER = 1, AUDIT_ARCH_X86_64 = 0xC000003E;
    /** What the filter answers: {@code SECCOMP_RET_ALLOW}, or {@code SECCOMP_RET_ERRNO} or'ed with the errno. */
    private static final int SECCOMP_RET_ALLOW = 0x7fff0000, SECCOMP_RET_ERRNO = 0x00050000;
    /** The classic BPF instructions the filter is made of. */
    private static final short BPF_LD_W_ABS = 0x20, BPF_JMP_JEQ_K = 0x15, BPF_RET_K = 0x06;
    /** struct seccomp_data: nr at 0, arch at 4. */
    private static final int DATA_NR = 0, DATA_ARCH = 4;

    /** struct sock_filter. */
    private static final StructLayout SOCK_FILTER = MemoryLayout.structLayout(JAVA_SHORT.withName("code"),
            JAVA_BYTE.withName("jt"), JAVA_BYTE.withName("jf"), JAVA_INT.withName("k"));
    /** struct sock_fprog. */
    private static final StructLayout SOCK_FPROG = MemoryLayout.structLayout(JAVA_SHORT.withName("len"),
            MemoryLayout.paddingLayout(6), ADDRESS.withName("filter"));
    private static final VarHandle CODE = SOCK_FILTER.varHandle(MemoryLayout.PathElement.groupElement("code"));
    private static final VarHandle JT = SOCK_FILTER.varHandle(MemoryLayout.PathElement.groupElement("jt"));
    private static final VarHandle JF = SOCK_FILTER.varHandle(MemoryLayout.PathElement.groupElement("jf"));
    private static final VarHandle K = SOCK_FILTER.varHandle(MemoryLayout.PathElement.groupElement("k"));

    private DenyRseq() {
    }

    /**
     * Installs the filter on one thread, which then runs the commands.
     *
     * @param args the errno name, then pkrseq command lines separated by {@code ;}
     * @throws Throwable when the filter cannot be installed
     */
    public static void main(String[] args) throws Throwable {
        Errno errno = Errno.valueOf(args[0]);
        new ProcessBuilder("true").start().waitFor();
        Throwable[] failure = new Throwable[1];
        Thread filtered = Thread.ofPlatform().name("denied-rseq").start(() -> {
            try {
                install(errno);
                runCommands(args);
            } catch (Throwable t) {
                failure[0] = t;
            }
        });
        filtered.join();
        if (failure[0] != null) {
            throw failure[0];
        }
    }

    private static void runCommands(String[] args) {
        List<List<String>> commands = new ArrayList<>();
        List<String> current = new ArrayList<>();
        for (String a : Arrays.asList(args).subList(1, args.length)) {
            if (a.equals(";")) {
                commands.add(current);
                current = new ArrayList<>();
            } else {
                current.add(a);
            }
        }
        commands.add(current);
        Base64.Encoder b64 = Base64.getEncoder();
        for (int i = 0; i < commands.size(); i++) {
            ChildJvm.Result r = ChildJvm.of(Main.class).args(commands.get(i).toArray(String[]::new)).run();
            ChildReport.put("cmd." + i + ".exit", r.exitCode());
            ChildReport.put("cmd." + i + ".out", b64.encodeToString(r.stdout().getBytes(StandardCharsets.UTF_8)));
            ChildReport.put("cmd." + i + ".err", b64.encodeToString(r.stderr().getBytes(StandardCharsets.UTF_8)));
        }
    }

    private static void install(Errno errno) throws Throwable {
        Linker linker = Linker.nativeLinker();
        MethodHandle prctl = linker.downcallHandle(linker.defaultLookup().find("prctl").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
                Linker.Option.firstVariadicArg(1));
        MethodHandle syscall = linker.downcallHandle(linker.defaultLookup().find("syscall").orElseThrow(),
                FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS), Linker.Option.firstVariadicArg(1));
        if ((int) prctl.invokeExact(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) != 0) {
            throw new IllegalStateException("prctl(PR_SET_NO_NEW_PRIVS) failed");
        }
        int[][] program = {
            {BPF_LD_W_ABS, 0, 0, DATA_ARCH},
            // Another architecture: allow (jump to the last instruction).
            {BPF_JMP_JEQ_K, 0, 3, AUDIT_ARCH_X86_64},
            {BPF_LD_W_ABS, 0, 0, DATA_NR},
            {BPF_JMP_JEQ_K, 0, 1, NR_RSEQ_X86_64},
            {BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.number()},
            {BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW},
        };
        Arena arena = Arena.global();
        MemorySegment filter = arena.allocate(SOCK_FILTER, program.length);
        for (int i = 0; i < program.length; i++) {
            MemorySegment f = filter.asSlice(i * SOCK_FILTER.byteSize(), SOCK_FILTER);
            CODE.set(f, 0L, (short) program[i][0]);
            JT.set(f, 0L, (byte) program[i][1]);
            JF.set(f, 0L, (byte) program[i][2]);
            K.set(f, 0L, program[i][3]);
        }
        MemorySegment prog = arena.allocate(SOCK_FPROG);
        prog.set(JAVA_SHORT, 0, (short) program.length);
        prog.set(ADDRESS, 8, filter);
        long r = (long) syscall.invokeExact(SYS_SECCOMP, (long) SECCOMP_SET_MODE_FILTER, 0L, prog);
        if (r != 0) {
            throw new IllegalStateException("seccomp(SECCOMP_SET_MODE_FILTER) returned " + r);
        }
    }
}
