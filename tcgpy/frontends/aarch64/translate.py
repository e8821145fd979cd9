"""AArch64 translation context: register access and the shared ``gen_*``
shapes (flag-setting arithmetic, condition codes, loads/stores, branches)
that the per-group ``insn_*`` modules build on."""
from __future__ import annotations

from ...ir.builder import Builder
from ...ir.core import Block, Temp
from ...ir.ops import Cond, Exit, MemOp
from .cpu import GPR_NAMES

M32 = 0xFFFF_FFFF


class DisasContext:
    def __init__(self, b: Builder, block: Block):
        self.b = b
        self.block = block
        g = block.globals
        self.xregs: list[Temp] = [g[n] for n in GPR_NAMES]
        self.sp = g["sp"]
        self.pc_g = g["pc"]
        self.nf, self.zf, self.cf, self.vf = g["nf"], g["zf"], g["cf"], g["vf"]
        self.g = g
        self.pc = block.pc          # pc of the instruction being translated
        self.next_pc = block.pc + 4
        self.ended = False          # set by instructions that end the block
        # Top Byte Ignore for data accesses: Linux turns it on for EL0 (the
        # translator sets it from the Linux ABI through the Emulator)
        self.tbi = False

    # -- general registers ---------------------------------------------------
    def read_reg(self, n: int, sp: bool = False) -> Temp:
        """Xn as a 64-bit value; register 31 is XZR, or SP when ``sp``."""
        if n == 31:
            return self.sp if sp else self.b.const(0)
        return self.xregs[n]

    def read_reg_sf(self, n: int, sf: int, sp: bool = False) -> Temp:
        """Xn, or Wn zero-extended when ``sf`` is 0."""
        v = self.read_reg(n, sp)
        if sf or v.is_const:
            return v
        return self.b.ext32u(v)

    def write_reg(self, n: int, value, sf: int = 1, sp: bool = False) -> None:
        """Write Xn (or Wn, zero-extending, when ``sf`` is 0); XZR discards."""
        if n == 31 and not sp:
            return
        dst = self.sp if n == 31 else self.xregs[n]
        if not sf:
            value = self.b.ext32u(value)
        self.b.mov(dst, value)

    # -- flags ---------------------------------------------------------------
    def gen_nz(self, res: Temp, sf: int) -> None:
        """N and Z from a result already truncated to the operation size."""
        b = self.b
        b.mov(self.nf, b.shr(res, 63 if sf else 31))
        b.mov(self.zf, b.setcond(Cond.eq, res, 0))

    def gen_logic_flags(self, res: Temp, sf: int) -> None:
        self.gen_nz(res, sf)
        self.b.mov(self.cf, 0)
        self.b.mov(self.vf, 0)

    def gen_add_carry(self, a: Temp, b_: Temp, carry, sf: int, set_flags: bool) -> Temp:
        """a + b_ + carry at size sf, optionally setting NZCV; returns the result.

        Subtraction is a + ~b + 1, as the architecture defines it (AddWithCarry).
        """
        b = self.b
        carry = b.temp(carry)
        if sf:
            s = b.add(b.add(a, b_), carry)
            res = s
            if set_flags:
                if carry.is_const and carry.value == 0:
                    c = b.setcond(Cond.ltu, s, a)
                else:
                    c = b.or_(b.setcond(Cond.ltu, s, a),
                              b.and_(b.setcond(Cond.eq, s, a), carry))
                v = b.shr(b.andc(b.xor(s, a), b.xor(a, b_)), 63)
        else:
            a32 = b.ext32u(a)
            b32 = b.ext32u(b_)
            s = b.add(b.add(a32, b32), carry)
            res = b.ext32u(s)
            if set_flags:
                c = b.shr(s, 32)
                v = b.and_(b.shr(b.andc(b.xor(res, a32), b.xor(a32, b32)), 31), 1)
        if set_flags:
            self.gen_nz(res, sf)
            b.mov(self.cf, c)
            b.mov(self.vf, v)
        return res

    def gen_add(self, a, b_, sf: int, set_flags: bool) -> Temp:
        return self.gen_add_carry(a, self.b.temp(b_), 0, sf, set_flags)

    def gen_sub(self, a, b_, sf: int, set_flags: bool) -> Temp:
        b = self.b
        if not set_flags:
            res = b.sub(a, b_)
            return res if sf else b.ext32u(res)
        # AddWithCarry(a, NOT(b), 1) written the cheap way: C is "no borrow"
        # and V is set when the operands differ in sign and the result's sign
        # differs from a's.
        if not sf:
            a = b.ext32u(a)
            b_ = b.ext32u(b_)
        res = b.sub(a, b_)
        if not sf:
            res = b.ext32u(res)
        top = 63 if sf else 31
        self.gen_nz(res, sf)
        b.mov(self.cf, b.setcond(Cond.geu, a, b_))
        b.mov(self.vf, b.and_(b.shr(b.and_(b.xor(a, b_), b.xor(a, res)), top), 1))
        return res

    def cond_holds(self, cond: int) -> Temp:
        """1 when A64 condition ``cond`` (0..15) holds on the current NZCV, else 0."""
        b = self.b
        base = cond >> 1
        if base == 0:
            t = self.zf
        elif base == 1:
            t = self.cf
        elif base == 2:
            t = self.nf
        elif base == 3:
            t = self.vf
        elif base == 4:            # HI: C && !Z
            t = b.andc(self.cf, self.zf)
        elif base == 5:            # GE: N == V
            t = b.xor(b.xor(self.nf, self.vf), 1)
        elif base == 6:            # GT: !Z && N == V
            t = b.andc(b.xor(b.xor(self.nf, self.vf), 1), self.zf)
        else:                      # AL / NV: always
            return b.const(1)
        if cond & 1:
            t = b.xor(t, 1)
        return t

    # -- memory ----------------------------------------------------------------
    def gen_ld(self, addr, size_log2: int, sign: bool = False, align: bool = False) -> Temp:
        # With TBI (Linux enables it for EL0) the access ignores the address's
        # top byte (MemOp.TBI); writeback and the exclusive monitor keep the
        # tagged value.
        return self.b.ld(addr, MemOp.make(size_log2, sign, align, self.tbi))

    def gen_st(self, value, addr, size_log2: int, align: bool = False) -> None:
        self.b.st(value, addr, MemOp.make(size_log2, False, align, self.tbi))

    def gen_cmpxchg(self, addr, expected, new, size_log2: int, align: bool = True) -> Temp:
        """The old value at addr, replaced by ``new`` if it was ``expected``
        (zero-extended at the size), atomically (Op.cmpxchg)."""
        return self.b.cmpxchg(addr, expected, new, self._atomic_memop(size_log2, align))

    def gen_swap_or_retry(self, addr, old, new, size_log2: int) -> None:
        """An aligned read-modify-write's store (Builder.swap_or_retry)."""
        self.b.swap_or_retry(addr, old, new, self._atomic_memop(size_log2, True), self.pc)

    def _atomic_memop(self, size_log2: int, align: bool) -> int:
        return MemOp.make(size_log2, False, align, self.tbi)

    def gen_st2(self, lo, hi, addr, size_log2: int) -> None:
        """A pair of elements at addr and addr + size (ops.pair_upper_first
        says which one is stored first)."""
        self.b.st2(lo, hi, addr, MemOp.make(size_log2, tbi=self.tbi))

    # -- control flow ----------------------------------------------------------
    def gen_goto(self, target: int) -> None:
        """Direct jump to a known pc: a chained exit."""
        self.b.goto_tb(target)
        self.ended = True

    def gen_cond_goto(self, cond_true: Temp, target: int) -> None:
        """Jump to ``target`` when cond_true != 0, else fall through to next_pc."""
        b = self.b
        skip = b.new_label()
        b.brcond(Cond.eq, cond_true, 0, skip)
        b.goto_tb(target)
        b.set_label(skip)
        b.goto_tb(self.next_pc)
        self.ended = True

    def gen_goto_reg(self, target: Temp) -> None:
        """Indirect jump through the pc -> host code table."""
        self.b.goto_ptr(target)
        self.ended = True

    def gen_exit(self, pc: int, code: Exit) -> None:
        self.b.exit_tb(pc, code)
        self.ended = True
