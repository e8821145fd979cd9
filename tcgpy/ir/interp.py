"""Reference interpreter for the IR: the oracle the optimizer passes and the
backend are checked against.  It is written for obviousness, not speed.

Each op's meaning is one small function registered by op:

* ``@interprets(Op.x)`` for pure value ops: ``fn(*consts, *inputs) -> int``
  on unsigned 64-bit ints.  The constant folder evaluates through the same
  functions (``VALUE_SEMANTICS``), so folding can never disagree with the
  oracle about what an op computes.
* ``@executes(Op.x)`` for ops that touch the machine (memory, env, control
  flow, exits): ``fn(m: Machine, insn) -> None``.

``INTERPRETERS`` holds both, keyed by op; a test checks every op is covered.
"""
from __future__ import annotations

import ctypes
from ..record import record
from typing import Callable, Mapping, Protocol

from .core import Block, Insn, Kind, Temp
from .helpers import rvfp_semantics
from .ops import MASK64, Exit, MemOp, Op, eval_cond, memop_size, pair_upper_first, tbi_address, to_signed
from .verify import IRError

INT64_MIN = 1 << 63

VALUE_SEMANTICS: dict[Op, Callable[..., int]] = {}
INTERPRETERS: dict[Op, Callable[["Machine", Insn], None]] = {}


# -- guest memory ------------------------------------------------------------

class InterpFault(Exception):
    """A guest memory access the memory model refuses (unmapped, misaligned)."""

    def __init__(self, addr: int, access: str, align: bool = False):
        super().__init__(f"{access} fault at {addr:#x}")
        self.addr = addr
        self.access = access      # "read" or "write"
        self.align = align        # misaligned (an exclusive or atomic access)


class Memory(Protocol):
    """What the interpreter needs from guest memory; values are unsigned."""

    def load(self, addr: int, size: int) -> int: ...

    def store(self, addr: int, size: int, value: int) -> None: ...


class FlatMemory:
    """One contiguous little-endian region ``[base, base + len(data))``; any
    access not entirely inside it faults."""

    def __init__(self, base: int, data: bytearray):
        self.base = base
        self.data = data

    def _offset(self, addr: int, size: int, access: str) -> int:
        off = addr - self.base
        if off < 0 or off + size > len(self.data):
            raise InterpFault(addr, access)
        return off

    def load(self, addr: int, size: int) -> int:
        off = self._offset(addr, size, "read")
        return int.from_bytes(self.data[off:off + size], "little")

    def store(self, addr: int, size: int, value: int) -> None:
        off = self._offset(addr, size, "write")
        self.data[off:off + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")

    def copy(self) -> "FlatMemory":
        return FlatMemory(self.base, bytearray(self.data))


# -- CPU state -----------------------------------------------------------------

def _layout_of(layout_or_arch):
    return getattr(layout_or_arch, "layout", layout_or_arch)


class InterpState:
    """The env image: the same bytes the JIT code addresses through ``env``.

    IR globals are little-endian u64 at their ``Temp.offset``; ``ld_env`` and
    ``st_env`` access the same bytearray, so a comparison of ``env`` covers
    everything a block can change.
    """

    def __init__(self, layout_or_arch, env: bytes | bytearray | None = None):
        import ctypes
        self.layout = _layout_of(layout_or_arch)
        size = ctypes.sizeof(self.layout.struct)
        if env is None:
            env = bytearray(size)
        elif len(env) != size:
            raise ValueError(f"env image is {len(env)} bytes, expected {size}")
        self.env = bytearray(env)

    @classmethod
    def from_dict(cls, layout_or_arch, values: Mapping[str, int]) -> "InterpState":
        s = cls(layout_or_arch)
        for name, v in values.items():
            s[name] = v
        return s

    def to_dict(self) -> dict[str, int]:
        """Every register row (not the TLB) as an unsigned int."""
        return {r.name: self[r.name] for r in self.layout.rows}

    def _row(self, name: str):
        r = self.layout.by_name[name]
        return self.layout.offsets[r.name], r.size

    def __getitem__(self, name: str) -> int:
        off, size = self._row(name)
        return int.from_bytes(self.env[off:off + size], "little")

    def __setitem__(self, name: str, value: int) -> None:
        off, size = self._row(name)
        self.env[off:off + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")

    def read_u64(self, offset: int) -> int:
        return int.from_bytes(self.env[offset:offset + 8], "little")

    def write_u64(self, offset: int, value: int) -> None:
        self.env[offset:offset + 8] = (value & MASK64).to_bytes(8, "little")

    def copy(self) -> "InterpState":
        return InterpState(self.layout, self.env)

    def __eq__(self, other) -> bool:
        return isinstance(other, InterpState) and self.env == other.env

    def diff(self, other: "InterpState") -> dict[str, tuple[int, int]]:
        """Register rows that differ, name -> (self, other): for test messages."""
        a, b = self.to_dict(), other.to_dict()
        return {k: (a[k], b[k]) for k in a if a[k] != b[k]}


@record(frozen=True)
class ExitInfo:
    """How a block left.  ``pc`` is the next guest pc (goto_tb/goto_ptr/exit_tb)
    or the pc of the faulting guest instruction (fault); either way it is also
    what the pc global holds afterwards."""
    kind: str                       # "goto_tb", "goto_ptr", "exit_tb", "fault"
    pc: int
    code: int | None = None         # Exit code, exit_tb only
    fault_addr: int | None = None
    fault_access: str | None = None  # "read" / "write"
    fault_align: bool = False


# -- the machine the effectful ops act on ---------------------------------------

class Machine:
    """Execution context of one ``interpret`` call."""

    def __init__(self, block: Block, state: InterpState, mem: Memory, helpers):
        self.block = block
        self.env = state.env
        self.mem = mem
        self.helpers = helpers
        self.locals: dict[int, int] = {}
        self.jump: int | None = None   # label to continue at
        self.exit: ExitInfo | None = None

    def get(self, t: Temp) -> int:
        if t.kind is Kind.CONST:
            return t.value & MASK64
        if t.kind is Kind.LOCAL:
            try:
                return self.locals[t.index]
            except KeyError:
                raise IRError(f"local {t!r} read before it was written") from None
        return int.from_bytes(self.env[t.offset:t.offset + 8], "little")

    def set(self, t: Temp, value: int) -> None:
        value &= MASK64
        if t.kind is Kind.LOCAL:
            self.locals[t.index] = value
        elif t.kind is Kind.GLOBAL:
            self.env[t.offset:t.offset + 8] = value.to_bytes(8, "little")
        else:
            raise IRError(f"write to constant {t!r}")

    def leave(self, kind: str, pc: int, code: int | None = None) -> None:
        pc &= MASK64
        self.set(self.block.globals["pc"], pc)
        self.exit = ExitInfo(kind, pc, code)


# -- registration ---------------------------------------------------------------

def interprets(op: Op):
    """Register the pure semantics of a value op: ``fn(*consts, *inputs) -> int``."""
    def register(fn):
        VALUE_SEMANTICS[op] = fn

        def run(m: Machine, insn: Insn) -> None:
            get = m.get
            m.set(insn.outs[0], fn(*insn.consts, *[get(t) for t in insn.ins]))
        INTERPRETERS[op] = run
        return fn
    return register


def executes(op: Op):
    """Register an op that acts on the machine: ``fn(m, insn) -> None``."""
    def register(fn):
        INTERPRETERS[op] = fn
        return fn
    return register


# -- value ops --------------------------------------------------------------------

@interprets(Op.mov)
def interp_mov(a):
    return a


@interprets(Op.add)
def interp_add(a, b):
    return (a + b) & MASK64


@interprets(Op.sub)
def interp_sub(a, b):
    return (a - b) & MASK64


@interprets(Op.mul)
def interp_mul(a, b):
    return (a * b) & MASK64


@interprets(Op.and_)
def interp_and(a, b):
    return a & b


@interprets(Op.or_)
def interp_or(a, b):
    return a | b


@interprets(Op.xor)
def interp_xor(a, b):
    return a ^ b


@interprets(Op.andc)
def interp_andc(a, b):
    return a & ~b & MASK64


@interprets(Op.shl)
def interp_shl(a, b):
    return (a << (b & 63)) & MASK64


@interprets(Op.shr)
def interp_shr(a, b):
    return a >> (b & 63)


@interprets(Op.sar)
def interp_sar(a, b):
    return (to_signed(a) >> (b & 63)) & MASK64


@interprets(Op.rotr)
def interp_rotr(a, b):
    n = b & 63
    return ((a >> n) | (a << (64 - n))) & MASK64


@interprets(Op.neg)
def interp_neg(a):
    return -a & MASK64


@interprets(Op.not_)
def interp_not(a):
    return ~a & MASK64


@interprets(Op.muluh)
def interp_muluh(a, b):
    return (a * b) >> 64


@interprets(Op.mulsh)
def interp_mulsh(a, b):
    return ((to_signed(a) * to_signed(b)) >> 64) & MASK64


def _quotient(a: int, b: int) -> int:
    """a / b signed, truncated toward zero (Python's // floors); the one
    overflowing case, INT64_MIN / -1, wraps back to INT64_MIN.  b != 0."""
    sa, sb = to_signed(a), to_signed(b)
    q = abs(sa) // abs(sb)
    return (-q if (sa < 0) != (sb < 0) else q) & MASK64


@interprets(Op.divu_arm)
def interp_divu_arm(a, b):
    return a // b if b else 0


@interprets(Op.divs_arm)
def interp_divs_arm(a, b):
    return _quotient(a, b) if b else 0


@interprets(Op.divu_rv)
def interp_divu_rv(a, b):
    return a // b if b else MASK64


@interprets(Op.divs_rv)
def interp_divs_rv(a, b):
    return _quotient(a, b) if b else MASK64


@interprets(Op.remu_rv)
def interp_remu_rv(a, b):
    return a % b if b else a


@interprets(Op.rems_rv)
def interp_rems_rv(a, b):
    # a - (a / b) * b: the dividend's sign; INT64_MIN % -1 == 0
    return (a - _quotient(a, b) * b) & MASK64 if b else a


def _sext(bits: int):
    sign = 1 << (bits - 1)
    mask = (1 << bits) - 1
    return lambda a: (((a & mask) ^ sign) - sign) & MASK64


interprets(Op.ext8s)(_sext(8))
interprets(Op.ext16s)(_sext(16))
interprets(Op.ext32s)(_sext(32))


@interprets(Op.ext8u)
def interp_ext8u(a):
    return a & 0xFF


@interprets(Op.ext16u)
def interp_ext16u(a):
    return a & 0xFFFF


@interprets(Op.ext32u)
def interp_ext32u(a):
    return a & 0xFFFF_FFFF


@interprets(Op.clz)
def interp_clz(a):
    return 64 - a.bit_length()


@interprets(Op.bitrev)
def interp_bitrev(a):
    return int(f"{a:064b}"[::-1], 2)


@interprets(Op.bswap64)
def interp_bswap64(a):
    return int.from_bytes(a.to_bytes(8, "little"), "big")


@interprets(Op.setcond)
def interp_setcond(cond, a, b):
    return 1 if eval_cond(cond, a, b) else 0


@interprets(Op.movcond)
def interp_movcond(cond, c1, c2, v1, v2):
    return v1 if eval_cond(cond, c1, c2) else v2


# -- memory and env ------------------------------------------------------------

def _extend(value: int, memop: int) -> int:
    if memop & MemOp.SIGN:
        bits = 8 * memop_size(memop)
        sign = 1 << (bits - 1)
        return ((value ^ sign) - sign) & MASK64
    return value


def _address(addr: int, memop: int) -> int:
    return tbi_address(addr) if memop & MemOp.TBI else addr


def _check_align(addr: int, memop: int, access: str) -> None:
    if memop & MemOp.ALIGN and addr & (memop_size(memop) - 1):
        raise InterpFault(addr, access, align=True)


@executes(Op.ld)
def interp_ld(m: Machine, insn: Insn) -> None:
    memop = insn.consts[0]
    addr = _address(m.get(insn.ins[0]), memop)
    _check_align(addr, memop, "read")
    m.set(insn.outs[0], _extend(m.mem.load(addr, memop_size(memop)), memop))


@executes(Op.st)
def interp_st(m: Machine, insn: Insn) -> None:
    memop = insn.consts[0]
    addr = _address(m.get(insn.ins[1]), memop)
    _check_align(addr, memop, "write")
    size = memop_size(memop)
    m.mem.store(addr, size, m.get(insn.ins[0]) & ((1 << (8 * size)) - 1))


@executes(Op.st2)
def interp_st2(m: Machine, insn: Insn) -> None:
    memop = insn.consts[0]
    addr = _address(m.get(insn.ins[2]), memop)
    size = memop_size(memop)
    mask = (1 << (8 * size)) - 1
    parts = [(addr, m.get(insn.ins[0])), ((addr + size) & MASK64, m.get(insn.ins[1]))]
    if pair_upper_first(addr, size):
        parts.reverse()
    for a, v in parts:
        m.mem.store(a, size, v & mask)


@executes(Op.cmpxchg)
def interp_cmpxchg(m: Machine, insn: Insn) -> None:
    memop = insn.consts[0]
    addr = _address(m.get(insn.ins[0]), memop)
    _check_align(addr, memop, "read")       # (as the load would: Arm's rule for atomics)
    size = memop_size(memop)
    mask = (1 << (8 * size)) - 1
    expected, new = m.get(insn.ins[1]) & mask, m.get(insn.ins[2]) & mask
    cas = getattr(m.mem, "cmpxchg", None)
    if cas is not None:         # (atomically where other processes share the memory)
        m.set(insn.outs[0], cas(addr, size, expected, new))
        return
    old = m.mem.load(addr, size)
    # the store whatever the compare says: a write for permissions
    m.mem.store(addr, size, new if old == expected else old)
    m.set(insn.outs[0], old)


@executes(Op.ld_env)
def interp_ld_env(m: Machine, insn: Insn) -> None:
    off, memop = insn.consts
    size = memop_size(memop)
    m.set(insn.outs[0], _extend(int.from_bytes(m.env[off:off + size], "little"), memop))


@executes(Op.st_env)
def interp_st_env(m: Machine, insn: Insn) -> None:
    off, memop = insn.consts
    size = memop_size(memop)
    value = m.get(insn.ins[0]) & ((1 << (8 * size)) - 1)
    m.env[off:off + size] = value.to_bytes(size, "little")


@executes(Op.rvfp)
def interp_rvfp(m: Machine, insn: Insn) -> None:
    a, b, c, fcsr = (m.get(t) for t in insn.ins)
    value, fcsr = rvfp_semantics(insn.consts[0], a, b, c, fcsr)
    m.set(insn.outs[0], value)
    m.set(insn.outs[1], fcsr & MASK64)


@executes(Op.call)
def interp_call(m: Machine, insn: Insn) -> None:
    fn = m.helpers[insn.consts[0]].fn
    m.set(insn.outs[0], fn(*(m.get(t) for t in insn.ins)))


# -- instrumentation (tcgpy/hooks.py) ------------------------------------------------

@executes(Op.hook)
def interp_hook(m: Machine, insn: Insn) -> None:
    """The memory's ``hook(kind, pc, size)`` runs the hooks (a memory
    without one, as in tests of the passes, has none to run); when it says
    stop, the block is left at the pc they left in env."""
    kind, pc, size, _ = insn.consts
    pc_global = m.block.globals["pc"]
    m.set(pc_global, pc)
    hook = getattr(m.mem, "hook", None)
    if hook is not None and hook(kind, pc, size):
        m.exit = ExitInfo("exit_tb", m.get(pc_global), int(Exit.BUDGET))


@executes(Op.count)
def interp_count(m: Machine, insn: Insn) -> None:
    c = ctypes.c_uint64.from_address(insn.consts[0])
    c.value = (c.value + m.get(insn.ins[0])) & MASK64


@executes(Op.trace)
def interp_trace(m: Machine, insn: Insn) -> None:
    ring, mask, value = insn.consts
    written = ctypes.c_uint64.from_address(ring)
    ctypes.c_uint64.from_address(ring + 8 + 8 * (written.value & mask)).value = value & MASK64
    written.value = (written.value + 1) & MASK64


# -- control flow -------------------------------------------------------------------

@executes(Op.insn_start)
def interp_insn_start(m: Machine, insn: Insn) -> None:
    pass    # marks ownership statically: see the fault case in interpret()


@executes(Op.set_label)
def interp_set_label(m: Machine, insn: Insn) -> None:
    pass


@executes(Op.br)
def interp_br(m: Machine, insn: Insn) -> None:
    m.jump = insn.consts[0]


@executes(Op.brcond)
def interp_brcond(m: Machine, insn: Insn) -> None:
    cond, label = insn.consts
    if eval_cond(cond, m.get(insn.ins[0]), m.get(insn.ins[1])):
        m.jump = label


@executes(Op.goto_tb)
def interp_goto_tb(m: Machine, insn: Insn) -> None:
    m.leave("goto_tb", insn.consts[0])


@executes(Op.goto_ptr)
def interp_goto_ptr(m: Machine, insn: Insn) -> None:
    m.leave("goto_ptr", m.get(insn.ins[0]))


@executes(Op.exit_tb)
def interp_exit_tb(m: Machine, insn: Insn) -> None:
    m.leave("exit_tb", m.get(insn.ins[0]), int(insn.consts[0]))


# -- the loop ---------------------------------------------------------------------

def block_plan(block: Block) -> tuple[dict[int, int], list]:
    """What ``interpret`` works out about a block before running it (label ->
    insn index, each insn's interpreter), to be passed back in for a block
    run many times."""
    labels = {insn.consts[0]: i for i, insn in enumerate(block.insns) if insn.op is Op.set_label}
    return labels, [INTERPRETERS[insn.op] for insn in block.insns]


def interpret(block: Block, state: InterpState, mem: Memory, *, helpers=None,
              max_steps: int = 1_000_000, plan: tuple | None = None) -> ExitInfo:
    """Run ``block`` on ``state`` (modified in place) and ``mem``.

    A memory fault stops the block precisely: every op before the faulting
    one has taken effect, nothing after, and the pc global holds the pc of
    the faulting guest instruction: that of the ``insn_start`` preceding the
    faulting op in program order (not necessarily the last one executed, when
    a branch skipped some), which is how the backend knows it too.  ``helpers``
    replaces ``tcgpy.ir.helpers.HELPERS`` (tests use deterministic ones).
    """
    if helpers is None:
        from .helpers import HELPERS as helpers
    insns = block.insns
    labels, fns = plan or block_plan(block)
    m = Machine(block, state, mem, helpers)
    i = 0
    n = len(insns)
    for _ in range(max_steps):
        if i >= n:
            raise IRError("control fell off the end of the block")
        insn = insns[i]
        try:
            fns[i](m, insn)
        except InterpFault as f:
            # An op belongs to the guest instruction whose insn_start precedes
            # it in program order (as in QEMU), even when reached by a branch.
            pc = next((x.consts[0] for x in reversed(insns[:i]) if x.op is Op.insn_start),
                      block.pc)
            m.set(block.globals["pc"], pc)
            return ExitInfo("fault", pc, fault_addr=f.addr & MASK64, fault_access=f.access, fault_align=f.align)
        if m.exit is not None:
            return m.exit
        if m.jump is not None:
            if m.jump not in labels:
                raise IRError(f"branch to unset label $L{m.jump}")
            i = labels[m.jump]
            m.jump = None
        else:
            i += 1
    raise IRError(f"block did not exit within {max_steps} steps")
from . import interp_vec  # noqa: E402,F401  (registers the vec op's interpreter)
