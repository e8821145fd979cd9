"""Random well-formed IR blocks, initial states and memories, for checking the
optimizer and the backend against the interpreter (tests, hypothesis, fuzz
campaigns).

A generated block uses the architecture's real IR globals (a few of them, so
that values get overwritten and re-read, which is what the passes care
about), locals that are reassigned, constants biased to edge values, every
value op, setcond/movcond/brcond with every Cond, forward branches to labels
(never backward: every block terminates), loads/stores of every size and
signedness at addresses that stay inside the data region (and sometimes do
not, or are misaligned with MemOp.ALIGN, to exercise faults), ld_env/st_env
on the vector-register bytes, insn_start markers, mid-block exits, and ends
in goto_tb, goto_ptr or exit_tb.

Every local is written on every path before it is read: the generator
tracks the defined locals along each path and intersects them at labels.
"""
from __future__ import annotations

import random

from .builder import Builder
from .core import Block, Temp
from .interp import FlatMemory, InterpState
from . import rvfp
from .ops import F, MASK64, Cond, Exit, MemOp, Op

INT64_MIN = 1 << 63
INT64_MAX = INT64_MIN - 1

EDGE_VALUES = (0, 1, 2, 3, 7, 8, 31, 32, 33, 63, 64, 65, 127, 128, 255, 256, 0xFFFF,
               0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 1 << 32, INT64_MAX, INT64_MIN,
               MASK64, MASK64 - 1, MASK64 - 63)

# Plain value ops: one output, inputs only.
VALUE_OPS = tuple(op for op in Op
                  if op.value.nout == 1 and op.value.nconst == 0 and op.value.flags == F.NONE)

# Ops the generator does not emit, by name, and why: "vec" needs operands
# specific to each vector op kind; its own tests cover it against the
# interpreter.  (A test checks every other op is generated.)
NOT_GENERATED = frozenset({"vec", "hook", "count", "trace"})

# Few globals, so that writes get overwritten (dead) and re-read (live).
DEFAULT_GLOBALS = ("x0", "x1", "x2", "x3", "x4", "sp", "nf", "zf", "cf", "vf", "pc")

DATA_BASE = 0x200000
DATA_SIZE = 0x1000


def random_value(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.45:
        return rng.choice(EDGE_VALUES)
    if r < 0.7:
        return rng.randrange(-16, 256) & MASK64
    return rng.getrandbits(64)


def _default_arch():
    from ..frontends import get_arch
    return get_arch("aarch64")


class _Gen:
    """State of one generation: the builder plus, per path, which locals are
    defined, and the open (branched-to, not yet placed) labels."""

    def __init__(self, rng, arch, data_base, data_size, fault_rate, calls, global_names, fp=False):
        self.rng = rng
        self.block = Block(0x400000 + 4 * rng.randrange(0x1000), globals=arch.ir_globals)
        self.b = Builder(self.block)
        self.globals = [arch.ir_globals[n] for n in global_names]
        self.data_base = data_base
        self.data_size = data_size
        self.fault_rate = fault_rate
        self.calls = calls
        self.fp = fp
        off = arch.layout.offsets
        self.env_lo = off["q0"]
        self.env_hi = off["q3"] + 16
        self.defined: dict[Temp, None] = {}     # ordered set: deterministic choices
        self.open_labels: dict[int, list[dict]] = {}   # label -> defined sets at its branches
        self.reachable = True
        self.next_pc = self.block.pc

    # -- operands ------------------------------------------------------------
    def operand(self) -> Temp:
        r = self.rng.random()
        if r < 0.35:
            return self.b.const(random_value(self.rng))
        if r < 0.7 and self.defined:
            return self.rng.choice(list(self.defined))
        return self.rng.choice(self.globals)

    def dest(self) -> Temp:
        r = self.rng.random()
        if r < 0.45:
            t = self.b.new_local()
        elif r < 0.65 and self.defined:
            t = self.rng.choice(list(self.defined))
        else:
            return self.rng.choice(self.globals)
        return t

    def wrote(self, t: Temp) -> Temp:
        if t.is_local:
            self.defined[t] = None
        return t

    # -- op kinds -----------------------------------------------------------
    def value_op(self) -> None:
        rng, b = self.rng, self.b
        r = rng.random()
        if r < 0.12:
            ins = [self.operand(), self.operand()]
            cond = rng.choice(list(Cond))
            if rng.random() < 0.1:
                ins[1] = ins[0]
            op, consts = Op.setcond, (cond,)
        elif r < 0.2:
            ins = [self.operand() for _ in range(4)]
            op, consts = Op.movcond, (rng.choice(list(Cond)),)
        else:
            op = rng.choice(VALUE_OPS)
            ins = [self.operand() for _ in range(op.value.nin)]
            if len(ins) == 2 and rng.random() < 0.1:
                ins[1] = ins[0]          # x^x, x-x, x&x ...
            consts = ()
        # Evaluate the inputs before choosing the output: a new local must
        # not appear as its own input.
        out = self.dest()
        b.emit(op, out, *ins, consts=consts)
        self.wrote(out)

    def address(self, size: int, align: bool, span: int = 0) -> Temp:
        """An address for an access of ``size`` bytes (elements) covering
        ``span`` bytes (size unless given)."""
        rng, b = self.rng, self.b
        span = span or size
        if rng.random() < self.fault_rate:
            # Out of range: a raw operand, or just past the end of the region.
            if rng.random() < 0.5:
                return self.operand()
            return b.const(self.data_base + self.data_size - rng.randrange(size))
        # base + (x & (data_size - slack)) + k, k + span <= slack: inside the
        # region; k not a multiple of size makes an ALIGN access fault.
        slack = max(8, span)
        k = rng.randrange(0, slack + 1 - span)
        if align and rng.random() > self.fault_rate * 5:
            k -= k % size
        masked = b.and_(self.operand(), self.data_size - slack)
        return b.add(masked, self.data_base + k)

    def memory_op(self) -> None:
        rng, b = self.rng, self.b
        size_log2 = rng.randrange(4)
        align = rng.random() < 0.2
        kind = rng.random()
        pair = kind >= 0.8 and not align
        addr = self.address(1 << size_log2, align, 2 << size_log2 if pair else 0)
        tbi = rng.random() < 0.2
        if tbi:       # a tagged pointer: the access ignores its top byte
            addr = b.xor(addr, rng.randrange(256) << 56)
        if kind < 0.5:
            memop = MemOp.make(size_log2, sign=rng.random() < 0.5, align=align, tbi=tbi)
            out = self.dest()
            b.emit(Op.ld, out, addr, consts=(memop,))
            self.wrote(out)
        elif kind < 0.6 and not pair:
            # a compare-and-swap, half of them expecting what is there
            memop = MemOp.make(size_log2, align=align, tbi=tbi)
            expected = b.ld(addr, memop) if rng.random() < 0.5 else self.operand()
            out = self.dest()
            b.emit(Op.cmpxchg, out, addr, expected, self.operand(), consts=(memop,))
            self.wrote(out)
        elif not pair:
            b.st(self.operand(), addr, MemOp.make(size_log2, align=align, tbi=tbi))
        else:
            b.st2(self.operand(), self.operand(), addr, MemOp.make(size_log2, tbi=tbi))

    def env_op(self) -> None:
        rng, b = self.rng, self.b
        size_log2 = rng.randrange(4)
        off = rng.randrange(self.env_lo, self.env_hi - (1 << size_log2) + 1)
        if rng.random() < 0.5:
            out = self.dest()
            b.emit(Op.ld_env, out, consts=(off, MemOp.make(size_log2, sign=rng.random() < 0.5)))
            self.wrote(out)
        else:
            b.emit(Op.st_env, self.operand(), consts=(off, size_log2))

    def call_op(self) -> None:
        out = self.dest()
        self.b.emit(Op.call, out, self.operand(), self.operand(), self.operand(), consts=(0,))
        self.wrote(out)

    def rvfp_op(self) -> None:
        """A RISC-V F/D operation (two outputs) of any kind, format, rounding
        mode (dynamic ones read whatever frm the fcsr operand holds)."""
        rng = self.rng
        control = rvfp.ctl(rng.randrange(len(rvfp.OP_NAMES)), rng.randrange(2),
                           rng.choice((0, 1, 2, 3, 4, rvfp.DYN)), rng.randrange(4))
        outs = self.dest(), self.dest()
        self.b.emit(Op.rvfp, *outs, *(self.operand() for _ in range(4)), consts=(control,))
        for t in outs:
            self.wrote(t)

    def insn_start(self) -> None:
        self.next_pc += 4
        self.b.insn_start(self.next_pc)

    def branch_label(self) -> int:
        if self.open_labels and self.rng.random() < 0.4:
            label = self.rng.choice(list(self.open_labels))
        else:
            label = self.b.new_label()
            self.open_labels[label] = []
        self.open_labels[label].append(dict(self.defined))
        return label

    def brcond(self) -> None:
        a, b_ = self.operand(), self.operand()
        self.b.brcond(self.rng.choice(list(Cond)), a, b_, self.branch_label())

    def br(self) -> None:
        self.b.br(self.branch_label())
        self.reachable = False
        self.place_label()

    def exit(self) -> None:
        rng, b = self.rng, self.b
        r = rng.random()
        if r < 0.4:
            b.goto_tb(self.block.pc + 4 * rng.randrange(-64, 64))
        elif r < 0.7:
            b.goto_ptr(self.operand())
        else:
            b.exit_tb(self.operand(), rng.choice(list(Exit)))
        self.reachable = False

    def place_label(self) -> None:
        label = self.rng.choice(list(self.open_labels))
        incoming = self.open_labels.pop(label)
        if self.reachable:
            incoming.append(self.defined)
        # Defined on every path into the label.
        self.defined = {t: None for t in incoming[0] if all(t in d for d in incoming[1:])}
        self.b.set_label(label)
        self.reachable = True

    def step(self) -> None:
        r = self.rng.random()
        if r < 0.55:
            self.value_op()
        elif r < 0.67:
            self.memory_op()
        elif r < 0.72:
            self.env_op()
        elif r < 0.80:
            self.insn_start()
        elif r < 0.86:
            self.brcond()
        elif r < 0.88:
            self.br()
        elif r < 0.92 and self.open_labels:
            self.place_label()
        elif r < 0.94 and self.open_labels:
            self.exit()
            self.place_label()
        elif r < 0.96 and self.calls:
            self.call_op()
        elif r < 0.975 and self.fp:
            self.rvfp_op()
        else:
            self.value_op()


def random_block(rng: random.Random, arch=None, *, n_ops: int = 30,
                 data_base: int = DATA_BASE, data_size: int = DATA_SIZE,
                 fault_rate: float = 0.03, calls: bool = False, fp: bool = False,
                 global_names: tuple[str, ...] = DEFAULT_GLOBALS) -> Block:
    """A random well-formed block of about ``n_ops`` generation steps.

    ``data_size`` must be a power of two >= 8.  ``calls`` adds ``call`` ops to
    helper 0, which is not deterministic (cntvct): interpret such blocks with
    a ``helpers=`` table of your own.  ``fp`` adds ``rvfp`` ops (two
    outputs, any operation, format and rounding mode).
    """
    if data_size < 8 or data_size & (data_size - 1):
        raise ValueError("data_size must be a power of two >= 8")
    g = _Gen(rng, arch or _default_arch(), data_base, data_size, fault_rate, calls, global_names, fp)
    g.b.insn_start(g.block.pc)
    for _ in range(n_ops):
        g.step()
    while g.open_labels:
        if g.rng.random() < 0.3:
            g.exit()
        g.place_label()
        g.value_op()
    g.exit()
    g.block.guest_insns = (g.next_pc - g.block.pc) // 4 + 1
    return g.block


def random_state(rng: random.Random, arch=None) -> InterpState:
    """Random register rows (not the TLB); flags get random 64-bit values too,
    since the IR does not know they are 0/1."""
    arch = arch or _default_arch()
    s = InterpState(arch.layout)
    for row in arch.layout.rows:
        if row.size == 8:
            s[row.name] = random_value(rng)
        else:
            s[row.name] = rng.getrandbits(8 * row.size)
    return s


def random_memory(rng: random.Random, base: int = DATA_BASE, size: int = DATA_SIZE) -> FlatMemory:
    return FlatMemory(base, bytearray(rng.getrandbits(8) for _ in range(size)))


# -- hypothesis strategies (hypothesis is imported only when these are used) ------

def blocks(arch=None, **kwargs):
    """Strategy of random blocks; keyword arguments go to ``random_block``."""
    from hypothesis import strategies as st
    return st.integers(0, 2**64 - 1).map(lambda s: random_block(random.Random(s), arch, **kwargs))


def states(arch=None):
    from hypothesis import strategies as st
    return st.integers(0, 2**64 - 1).map(lambda s: random_state(random.Random(s), arch))


def memories(base: int = DATA_BASE, size: int = DATA_SIZE):
    from hypothesis import strategies as st
    return st.integers(0, 2**64 - 1).map(lambda s: random_memory(random.Random(s), base, size))
