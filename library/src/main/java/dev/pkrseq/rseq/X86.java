package dev.pkrseq.rseq;

import java.util.Arrays;

/**
 * Encodes the few x86_64 instruction forms the rseq code generator needs, each as its GNU assembler
 * text (AT&amp;T syntax) and its bytes, so that a generator line states an instruction once and cannot
 * disagree with itself. Every form here is checked by {@code RseqCodeTest}, which assembles the text
 * with GNU {@code as} and compares the bytes.
 *
 * <p>Only what the generator uses: 64- and 32-bit register moves and loads/stores, stores of a
 * sign-extended 32-bit immediate, {@code add}, {@code sub}, {@code cmp}, {@code or}, {@code shl},
 * {@code not}, {@code test}, {@code inc}/{@code dec}, byte loads/stores, RIP-relative {@code lea} (the
 * caller supplies the fixup), and memory operands {@code disp(base)}, {@code disp(base,index,1)} and the
 * fs-relative absolute {@code %fs:disp32}.
 */
final class X86 {
    /** A general-purpose register, by its encoding number. */
    enum R {
        RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15;

        private static final String[] Q = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi"};
        private static final String[] D = {"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"};
        private static final String[] B = {"al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil"};

        int n() {
            return ordinal();
        }

        boolean extended() {
            return ordinal() >= 8;
        }

        /** The 64-bit name, with {@code %}. */
        String q() {
            return "%" + (ordinal() < 8 ? Q[ordinal()] : "r" + ordinal());
        }

        /** The 32-bit name, with {@code %}. */
        String d() {
            return "%" + (ordinal() < 8 ? D[ordinal()] : "r" + ordinal() + "d");
        }

        /** The 8-bit name, with {@code %}. */
        String b() {
            return "%" + (ordinal() < 8 ? B[ordinal()] : "r" + ordinal() + "b");
        }
    }

    /**
     * A memory operand: {@code disp(base)}, {@code disp(base,index,1)}, or {@code %fs:disp32} (absolute
     * within the fs segment, whose base is the thread pointer).
     */
    record Mem(R base, R index, long disp, boolean fs) {
        static Mem at(R base, long disp) {
            return new Mem(base, null, disp, false);
        }

        static Mem at(R base, R index, long disp) {
            if (index == R.RSP) {
                throw new IllegalArgumentException("rsp cannot be an index");
            }
            return new Mem(base, index, disp, false);
        }

        static Mem fs(long disp) {
            return new Mem(null, null, disp, true);
        }

        String text() {
            if (fs) {
                return "%fs:" + hex(disp);
            }
            String d = disp == 0 ? "" : Long.toString(disp);
            return d + "(" + base.q() + (index == null ? "" : "," + index.q() + ",1") + ")";
        }
    }

    /** One instruction: its assembler text and bytes. */
    record Insn(String text, int[] bytes) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Insn i && i.text.equals(text) && Arrays.equals(i.bytes, bytes);
        }

        @Override
        public int hashCode() {
            return text.hashCode() * 31 + Arrays.hashCode(bytes);
        }

        @Override
        public String toString() {
            return text;
        }
    }

    private X86() {
    }

    // ---- Register and memory moves -----------------------------------------------------------

    /** {@code mov src,dst}: 64-bit register to register. */
    static Insn movRR(R src, R dst) {
        return new Insn("mov " + src.q() + "," + dst.q(), rr(true, 0x89, src, dst));
    }

    /** {@code mov src,dst}: 32-bit register to register (zero-extends into the 64-bit register). */
    static Insn movRR32(R src, R dst) {
        return new Insn("mov " + src.d() + "," + dst.d(), rr(false, 0x89, src, dst));
    }

    /** {@code mov m,dst}: 64-bit load. */
    static Insn load(Mem m, R dst) {
        return new Insn("mov " + m.text() + "," + dst.q(), rm(true, new int[] {0x8b}, dst.n(), m, false));
    }

    /** {@code mov m,dst}: 32-bit load (zero-extends). */
    static Insn load32(Mem m, R dst) {
        return new Insn("mov " + m.text() + "," + dst.d(), rm(false, new int[] {0x8b}, dst.n(), m, false));
    }

    /** {@code mov src,m}: 64-bit store. */
    static Insn store(R src, Mem m) {
        return new Insn("mov " + src.q() + "," + m.text(), rm(true, new int[] {0x89}, src.n(), m, false));
    }

    /** {@code mov m,dst}: 8-bit load. */
    static Insn loadByte(Mem m, R dst) {
        return new Insn("mov " + m.text() + "," + dst.b(), rm(false, new int[] {0x8a}, dst.n(), m, byteNeedsRex(dst)));
    }

    /** {@code mov src,m}: 8-bit store. */
    static Insn storeByte(R src, Mem m) {
        return new Insn("mov " + src.b() + "," + m.text(), rm(false, new int[] {0x88}, src.n(), m, byteNeedsRex(src)));
    }

    /** {@code movq $imm,m}: stores a sign-extended 32-bit immediate as 64 bits. */
    static Insn storeImm(long imm, Mem m) {
        checkImm32(imm);
        return new Insn("movq $" + imm + "," + m.text(), X86Asm.cat(rm(true, new int[] {0xc7}, 0, m, false), X86Asm.le32(imm)));
    }

    /** {@code mov $imm,dst}: 32-bit immediate into a 32-bit register (zero-extends). */
    static Insn movImm32(long imm, R dst) {
        if (imm < Integer.MIN_VALUE || imm > 0xffffffffL) {
            throw new IllegalArgumentException("does not fit in 32 bits: " + imm);
        }
        int[] op = dst.extended() ? new int[] {0x41, 0xb8 + (dst.n() & 7)} : new int[] {0xb8 + dst.n()};
        return new Insn("mov $" + imm + "," + dst.d(), X86Asm.cat(op, le32u(imm)));
    }

    /** {@code mov $imm,dst}: a sign-extended 32-bit immediate into a 64-bit register. */
    static Insn movImm(long imm, R dst) {
        checkImm32(imm);
        return new Insn("mov $" + imm + "," + dst.q(), X86Asm.cat(new int[] {rex(true, false, false, dst.extended()), 0xc7,
            0xc0 | (dst.n() & 7)}, X86Asm.le32(imm)));
    }

    // ---- Arithmetic -----------------------------------------------------------------------------

    /** {@code add src,dst}: 64-bit register to register. */
    static Insn addRR(R src, R dst) {
        return new Insn("add " + src.q() + "," + dst.q(), rr(true, 0x01, src, dst));
    }

    /** {@code add src,m}: adds a register to memory (a read-modify-write of one instruction). */
    static Insn addToMem(R src, Mem m) {
        return new Insn("add " + src.q() + "," + m.text(), rm(true, new int[] {0x01}, src.n(), m, false));
    }

    /** {@code add m,dst}: adds memory to a register. */
    static Insn addFromMem(Mem m, R dst) {
        return new Insn("add " + m.text() + "," + dst.q(), rm(true, new int[] {0x03}, dst.n(), m, false));
    }

    /** {@code add $imm8,dst}: 64-bit. */
    static Insn addImm(int imm8, R dst) {
        return group1Imm8("add", 0, imm8, dst);
    }

    /** {@code sub $imm8,dst}: 64-bit. */
    static Insn subImm(int imm8, R dst) {
        return group1Imm8("sub", 5, imm8, dst);
    }

    /** {@code cmp $imm8,dst}: 64-bit, the immediate sign-extended. */
    static Insn cmpImm(int imm8, R dst) {
        return group1Imm8("cmp", 7, imm8, dst);
    }

    /** {@code or $imm8,dst}: 64-bit, the immediate sign-extended. */
    static Insn orImm(int imm8, R dst) {
        return group1Imm8("or", 1, imm8, dst);
    }

    /** {@code sub src,dst}: 64-bit register from register. */
    static Insn subRR(R src, R dst) {
        return new Insn("sub " + src.q() + "," + dst.q(), rr(true, 0x29, src, dst));
    }

    /** {@code cmp src,dst}: 64-bit registers; the flags of {@code dst - src}. */
    static Insn cmpRR(R src, R dst) {
        return new Insn("cmp " + src.q() + "," + dst.q(), rr(true, 0x39, src, dst));
    }

    /** {@code cmp src,m}: a register against memory; the flags of {@code m - src}. */
    static Insn cmpMem(R src, Mem m) {
        return new Insn("cmp " + src.q() + "," + m.text(), rm(true, new int[] {0x39}, src.n(), m, false));
    }

    /** {@code cmp m,dst}: memory against a register; the flags of {@code dst - m}. */
    static Insn cmpFromMem(Mem m, R dst) {
        return new Insn("cmp " + m.text() + "," + dst.q(), rm(true, new int[] {0x3b}, dst.n(), m, false));
    }

    /** {@code cmp $imm,dst}: 32-bit register against an immediate (imm8 form when it fits). */
    static Insn cmpImm32(long imm, R dst) {
        int rex = dst.extended() ? 0x41 : -1;
        int[] head = rex < 0 ? new int[0] : new int[] {rex};
        if (imm >= Byte.MIN_VALUE && imm <= Byte.MAX_VALUE) {
            return new Insn("cmp $" + imm + "," + dst.d(), X86Asm.cat(head, new int[] {0x83, 0xf8 | (dst.n() & 7), (int) imm & 0xff}));
        }
        return new Insn("cmp $" + imm + "," + dst.d(), X86Asm.cat(head, new int[] {0x81, 0xf8 | (dst.n() & 7)}, le32u(imm)));
    }

    /** {@code shl $n,dst}: 64-bit. */
    static Insn shlImm(int n, R dst) {
        if (n < 1 || n > 63) {
            throw new IllegalArgumentException("shift " + n);
        }
        return new Insn("shl $" + n + "," + dst.q(), new int[] {rex(true, false, false, dst.extended()), 0xc1,
            0xe0 | (dst.n() & 7), n});
    }

    /** {@code not dst}: 64-bit. */
    static Insn not(R dst) {
        return new Insn("not " + dst.q(), new int[] {rex(true, false, false, dst.extended()), 0xf7, 0xd0 | (dst.n() & 7)});
    }

    /** {@code test src,dst}: 64-bit. */
    static Insn testRR(R src, R dst) {
        return new Insn("test " + src.q() + "," + dst.q(), rr(true, 0x85, src, dst));
    }

    /** {@code inc dst}: 64-bit. */
    static Insn inc(R dst) {
        return new Insn("inc " + dst.q(), new int[] {rex(true, false, false, dst.extended()), 0xff, 0xc0 | (dst.n() & 7)});
    }

    /** {@code dec dst}: 64-bit. */
    static Insn dec(R dst) {
        return new Insn("dec " + dst.q(), new int[] {rex(true, false, false, dst.extended()), 0xff, 0xc8 | (dst.n() & 7)});
    }

    /** {@code dec dst}: 32-bit. */
    static Insn dec32(R dst) {
        int[] op = {0xff, 0xc8 | (dst.n() & 7)};
        return new Insn("dec " + dst.d(), dst.extended() ? X86Asm.cat(new int[] {0x41}, op) : op);
    }

    /** {@code ret}. */
    static Insn ret() {
        return new Insn("ret", new int[] {0xc3});
    }

    /**
     * The opcode bytes of {@code lea target(%rip),dst} without its rel32, which {@link X86Asm#rel32} appends
     * and resolves.
     */
    static int[] leaRipOpcode(R dst) {
        return new int[] {rex(true, dst.extended(), false, false), 0x8d, ((dst.n() & 7) << 3) | 0x05};
    }

    // ---- Encoding ----------------------------------------------------------------------------

    private static Insn group1Imm8(String name, int ext, int imm8, R dst) {
        if (imm8 < Byte.MIN_VALUE || imm8 > Byte.MAX_VALUE) {
            throw new IllegalArgumentException(name + " immediate " + imm8 + " does not fit 8 bits");
        }
        return new Insn(name + " $" + imm8 + "," + dst.q(), new int[] {rex(true, false, false, dst.extended()), 0x83,
            0xc0 | (ext << 3) | (dst.n() & 7), imm8 & 0xff});
    }

    /** Register-to-register form: {@code op reg=src, rm=dst}. */
    private static int[] rr(boolean w, int opcode, R src, R dst) {
        int modrm = 0xc0 | ((src.n() & 7) << 3) | (dst.n() & 7);
        if (w || src.extended() || dst.extended()) {
            return new int[] {rex(w, src.extended(), false, dst.extended()), opcode, modrm};
        }
        return new int[] {opcode, modrm};
    }

    /** A memory form: optional fs prefix, REX, opcode, ModRM, SIB, displacement. */
    private static int[] rm(boolean w, int[] opcode, int reg, Mem m, boolean forceRex) {
        int[] prefix = m.fs() ? new int[] {0x64} : new int[0];
        boolean r = reg >= 8;
        boolean x = m.index() != null && m.index().extended();
        boolean b = m.base() != null && m.base().extended();
        int[] rexByte = w || r || x || b || forceRex ? new int[] {rex(w, r, x, b)} : new int[0];
        int regBits = (reg & 7) << 3;
        int[] tail;
        if (m.fs()) {
            // mod 00, rm 100 (SIB), SIB: no index (100), base 101 with mod 00 = disp32 only.
            checkImm32(m.disp());
            tail = X86Asm.cat(new int[] {regBits | 0x04, 0x25}, X86Asm.le32(m.disp()));
        } else {
            R base = m.base();
            int mod;
            int[] disp;
            // rbp and r13 as a base have no mod-00 form (it means RIP-relative or disp32): use a zero disp8.
            if (m.disp() == 0 && (base.n() & 7) != 5) {
                mod = 0;
                disp = new int[0];
            } else if (m.disp() >= Byte.MIN_VALUE && m.disp() <= Byte.MAX_VALUE) {
                mod = 1;
                disp = new int[] {(int) m.disp() & 0xff};
            } else {
                mod = 2;
                disp = X86Asm.le32(m.disp());
            }
            if (m.index() != null) {
                tail = X86Asm.cat(new int[] {(mod << 6) | regBits | 0x04, ((m.index().n() & 7) << 3) | (base.n() & 7)}, disp);
            } else if ((base.n() & 7) == 4) {
                // rsp and r12 as a base need a SIB byte with no index.
                tail = X86Asm.cat(new int[] {(mod << 6) | regBits | 0x04, 0x24}, disp);
            } else {
                tail = X86Asm.cat(new int[] {(mod << 6) | regBits | (base.n() & 7)}, disp);
            }
        }
        return X86Asm.cat(prefix, rexByte, opcode, tail);
    }

    private static int rex(boolean w, boolean r, boolean x, boolean b) {
        return 0x40 | (w ? 8 : 0) | (r ? 4 : 0) | (x ? 2 : 0) | (b ? 1 : 0);
    }

    /** spl, bpl, sil and dil exist only with a REX prefix; without one the same numbers mean ah, ch, dh, bh. */
    private static boolean byteNeedsRex(R r) {
        return r.n() >= 4 && r.n() <= 7;
    }

    private static void checkImm32(long v) {
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("does not fit a signed 32-bit immediate: " + v);
        }
    }

    private static int[] le32u(long v) {
        return new int[] {(int) v & 0xff, (int) (v >>> 8) & 0xff, (int) (v >>> 16) & 0xff, (int) (v >>> 24) & 0xff};
    }

    static String hex(long v) {
        return v < 0 ? "-0x" + Long.toHexString(-v) : "0x" + Long.toHexString(v);
    }

}
