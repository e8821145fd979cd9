"""The reference interpreter: every op's semantics against hand-written
expectations (edge cases first), memory faults, precise exits, branches."""
from __future__ import annotations

import pytest

from tcgpy.frontends import get_arch
from tcgpy.ir.builder import Builder
from tcgpy.ir.core import Block
from tcgpy.ir.helpers import HelperDef
from tcgpy.ir.interp import (INTERPRETERS, VALUE_SEMANTICS, ExitInfo, FlatMemory, InterpFault,
                             InterpState, interpret)
from tcgpy.ir.ops import MASK64, Cond, Exit, MemOp, Op, memop_size
from tcgpy.ir.verify import IRError

ARCH = get_arch("aarch64")
M = MASK64
MIN = 1 << 63
BASE = 0x10000


def test_every_op_has_an_interpreter():
    assert set(INTERPRETERS) == set(Op)


def new_block() -> tuple[Block, Builder]:
    block = Block(0x1000, globals=ARCH.ir_globals)
    b = Builder(block)
    b.insn_start(0x1000)
    return block, b


def run(block, state=None, mem=None, **kw):
    state = state or InterpState(ARCH)
    mem = mem or FlatMemory(BASE, bytearray(64))
    return interpret(block, state, mem, **kw), state, mem


# -- value ops: (op, consts + inputs, expected) --------------------------------
VALUE_CASES = [
    (Op.mov, (7,), 7),
    (Op.add, (M, 1), 0),
    (Op.add, (MIN, MIN), 0),
    (Op.sub, (0, 1), M),
    (Op.mul, (1 << 32, 1 << 32), 0),
    (Op.mul, (M, M), 1),
    (Op.and_, (0xF0F0, 0xFF00), 0xF000),
    (Op.or_, (0xF0, 0x0F), 0xFF),
    (Op.xor, (M, 0xFF), M ^ 0xFF),
    (Op.andc, (0xFF, 0x0F), 0xF0),
    (Op.andc, (M, 0), M),
    (Op.shl, (1, 63), MIN),
    (Op.shl, (1, 64), 1),                 # counts mod 64
    (Op.shl, (3, 65), 6),
    (Op.shr, (MIN, 63), 1),
    (Op.shr, (MIN, 64), MIN),
    (Op.sar, (MIN, 63), M),
    (Op.sar, (MIN, 1), 0xC000_0000_0000_0000),
    (Op.sar, (0x4000_0000_0000_0000, 62), 1),
    (Op.sar, (MIN, 128), MIN),
    (Op.rotr, (1, 1), MIN),
    (Op.rotr, (0x1234, 0), 0x1234),
    (Op.rotr, (0x1234, 64), 0x1234),
    (Op.rotr, (0xF, 4), 0xF000_0000_0000_0000),
    (Op.neg, (0,), 0),
    (Op.neg, (1,), M),
    (Op.neg, (MIN,), MIN),
    (Op.not_, (0,), M),
    (Op.muluh, (M, M), M - 1),
    (Op.muluh, (1 << 32, 1 << 32), 1),
    (Op.muluh, (5, 7), 0),
    (Op.mulsh, (M, M), 0),                # -1 * -1 = 1: high half 0
    (Op.mulsh, (M, 1), M),                # -1 * 1: high half all ones
    (Op.mulsh, (MIN, MIN), 1 << 62),
    (Op.mulsh, (MIN, 2), M),
    # Arm's rule: x / 0 == 0
    (Op.divu_arm, (7, 2), 3),
    (Op.divu_arm, (7, 0), 0),
    (Op.divu_arm, (M, 1), M),
    (Op.divu_arm, (M, M), 1),
    (Op.divs_arm, (7, 2), 3),
    (Op.divs_arm, (-7 & M, 2), -3 & M),       # truncates toward zero (Python floors)
    (Op.divs_arm, (7, -2 & M), -3 & M),
    (Op.divs_arm, (-7 & M, -2 & M), 3),
    (Op.divs_arm, (5, 0), 0),
    (Op.divs_arm, (MIN, M), MIN),             # INT64_MIN / -1 overflows to itself
    (Op.divs_arm, (MIN, 1), MIN),
    # RISC-V's rule: x / 0 is all ones, x % 0 == x, INT64_MIN % -1 == 0
    (Op.divu_rv, (7, 2), 3),
    (Op.divu_rv, (7, 0), M),
    (Op.divu_rv, (M, M), 1),
    (Op.divs_rv, (-7 & M, 2), -3 & M),
    (Op.divs_rv, (5, 0), M),
    (Op.divs_rv, (MIN, M), MIN),
    (Op.remu_rv, (7, 2), 1),
    (Op.remu_rv, (7, 0), 7),
    (Op.remu_rv, (M, 10), 5),
    (Op.rems_rv, (-7 & M, 2), M),             # the dividend's sign: -7 % 2 == -1
    (Op.rems_rv, (7, -2 & M), 1),
    (Op.rems_rv, (-7 & M, 0), -7 & M),
    (Op.rems_rv, (MIN, M), 0),
    (Op.rems_rv, (MIN, 3), -2 & M),
    (Op.ext8s, (0x80,), M - 0x7F),
    (Op.ext8s, (0x17F,), 0x7F),
    (Op.ext8u, (0x1FF,), 0xFF),
    (Op.ext16s, (0x8000,), M - 0x7FFF),
    (Op.ext16s, (0xF7FFF,), 0x7FFF),
    (Op.ext16u, (M,), 0xFFFF),
    (Op.ext32s, (0x8000_0000,), 0xFFFF_FFFF_8000_0000),
    (Op.ext32s, (0x1_7FFF_FFFF,), 0x7FFF_FFFF),
    (Op.ext32u, (M,), 0xFFFF_FFFF),
    (Op.clz, (0,), 64),
    (Op.clz, (1,), 63),
    (Op.clz, (MIN,), 0),
    (Op.clz, (0xFFFF,), 48),
    (Op.bitrev, (1,), MIN),
    (Op.bitrev, (MIN,), 1),
    (Op.bitrev, (0,), 0),
    (Op.bitrev, (0xF0,), 0x0F00_0000_0000_0000),
    (Op.bitrev, (0x0123_4567_89AB_CDEF,), 0xF7B3_D591_E6A2_C480),
    (Op.bswap64, (0x0102_0304_0506_0708,), 0x0807_0605_0403_0201),
    (Op.bswap64, (0xFF,), 0xFF00_0000_0000_0000),
    (Op.setcond, (Cond.eq, 3, 3), 1),
    (Op.setcond, (Cond.ne, 3, 3), 0),
    (Op.setcond, (Cond.lt, M, 0), 1),     # -1 < 0 signed
    (Op.setcond, (Cond.ltu, M, 0), 0),
    (Op.setcond, (Cond.ge, 0, M), 1),
    (Op.setcond, (Cond.le, MIN, M), 1),
    (Op.setcond, (Cond.gt, 0, MIN), 1),
    (Op.setcond, (Cond.geu, 0, MIN), 0),
    (Op.setcond, (Cond.leu, 5, 5), 1),
    (Op.setcond, (Cond.gtu, MIN, 5), 1),
    (Op.setcond, (Cond.always, 0, 1), 1),
    (Op.setcond, (Cond.never, 0, 0), 0),
    (Op.movcond, (Cond.lt, M, 0, 11, 22), 11),
    (Op.movcond, (Cond.ltu, M, 0, 11, 22), 22),
]


def test_every_value_op_has_a_case():
    assert {op for op, _, _ in VALUE_CASES} == set(VALUE_SEMANTICS)


@pytest.mark.parametrize("op,args,expected", VALUE_CASES,
                         ids=[f"{op.value.name}-{i}" for i, (op, _, _) in enumerate(VALUE_CASES)])
def test_value_op_semantics(op, args, expected):
    # Through a real block, with the inputs in globals (not constants), so
    # the op is executed rather than looked up.
    block, b = new_block()
    nconst = op.value.nconst
    consts, ins = args[:nconst], args[nconst:]
    regs = [ARCH.ir_globals[f"x{i}"] for i in range(len(ins))]
    b.emit(op, ARCH.ir_globals["x10"], *regs, consts=tuple(int(c) for c in consts))
    b.goto_tb(0x2000)
    state = InterpState.from_dict(ARCH, {f"x{i}": v for i, v in enumerate(ins)})
    info, state, _ = run(block, state)
    assert state["x10"] == expected
    assert info == ExitInfo("goto_tb", 0x2000)
    assert state["pc"] == 0x2000


# -- memory ----------------------------------------------------------------------

@pytest.mark.parametrize("memop,expected", [
    (MemOp.make(0), 0x88),
    (MemOp.make(0, sign=True), M - 0x77),
    (MemOp.make(1), 0x9988),
    (MemOp.make(1, sign=True), 0xFFFF_FFFF_FFFF_9988),
    (MemOp.make(2), 0xBBAA_9988),
    (MemOp.make(2, sign=True), 0xFFFF_FFFF_BBAA_9988),
    (MemOp.make(3), 0xFFEE_DDCC_BBAA_9988),
    (MemOp.make(3, sign=True), 0xFFEE_DDCC_BBAA_9988),
])
def test_load_sizes_and_sign_extension(memop, expected):
    block, b = new_block()
    b.mov(ARCH.ir_globals["x0"], b.ld(BASE + 8, memop))
    b.goto_tb(0)
    mem = FlatMemory(BASE, bytearray(8) + bytes.fromhex("8899aabbccddeeff"))
    _, state, _ = run(block, mem=mem)
    assert state["x0"] == expected


@pytest.mark.parametrize("size_log2", range(4))
def test_store_writes_only_its_size(size_log2):
    block, b = new_block()
    b.st(0x1122_3344_5566_7788, BASE + 4, MemOp.make(size_log2))
    b.goto_tb(0)
    _, _, mem = run(block, mem=FlatMemory(BASE, bytearray(b"\xAA" * 16)))
    n = 1 << size_log2
    assert mem.data[4:4 + n] == (0x1122_3344_5566_7788).to_bytes(8, "little")[:n]
    assert mem.data[:4] == b"\xAA" * 4 and mem.data[4 + n:] == b"\xAA" * (12 - n)


def test_flat_memory_faults_outside_its_range():
    mem = FlatMemory(BASE, bytearray(16))
    assert mem.load(BASE + 8, 8) == 0
    for addr, size in ((BASE - 1, 1), (BASE + 9, 8), (BASE + 16, 1), (0, 8)):
        with pytest.raises(InterpFault) as e:
            mem.load(addr, size)
        assert (e.value.addr, e.value.access) == (addr, "read")
        with pytest.raises(InterpFault) as e:
            mem.store(addr, size, 0)
        assert e.value.access == "write"


def fault_block(access: str, memop: int, addr: int):
    """x0 = 1 (insn 0x1000), then insn 0x1004 does x1 = 2 and the access,
    then x2 = 3: a fault must leave x0 and x1 written, x2 not."""
    block, b = new_block()
    g = ARCH.ir_globals
    b.mov(g["x0"], 1)
    b.insn_start(0x1004)
    b.mov(g["x1"], 2)
    if access == "read":
        b.mov(g["x3"], b.ld(addr, memop))
    else:
        b.st(g["x0"], addr, memop)
    b.mov(g["x2"], 3)
    b.goto_tb(0x2000)
    return block


@pytest.mark.parametrize("access", ["read", "write"])
@pytest.mark.parametrize("memop,addr", [
    (MemOp.make(3), 0xDEAD0000),                       # unmapped
    (MemOp.make(3), BASE + 60),                        # straddles the end
    (MemOp.make(2, align=True), BASE + 2),             # misaligned + ALIGN
    (MemOp.make(1, align=True), BASE + 1),
])
def test_faults_are_precise(access, memop, addr):
    block = fault_block(access, memop, addr)
    state = InterpState.from_dict(ARCH, {"x3": 77})
    info, state, mem = run(block, state)
    misaligned = bool(memop & MemOp.ALIGN) and addr % memop_size(memop) != 0
    assert info == ExitInfo("fault", 0x1004, fault_addr=addr, fault_access=access, fault_align=misaligned)
    assert (state["x0"], state["x1"], state["x2"], state["x3"]) == (1, 2, 0, 77)
    assert state["pc"] == 0x1004
    assert mem.data == bytearray(64)


def test_misaligned_access_without_align_flag_is_fine():
    block = fault_block("read", MemOp.make(2), BASE + 2)
    info, state, _ = run(block)
    assert info.kind == "goto_tb" and state["x2"] == 3


def test_ld_env_st_env_use_the_env_bytes():
    block, b = new_block()
    q0 = ARCH.layout.offsets["q0"]
    b.emit(Op.st_env, 0x80FF, consts=(q0 + 3, MemOp.make(1)))
    b.mov(ARCH.ir_globals["x0"], b._value_op(Op.ld_env, consts=(q0 + 3, MemOp.make(1, sign=True))))
    b.mov(ARCH.ir_globals["x1"], b._value_op(Op.ld_env, consts=(q0 + 4, MemOp.make(0))))
    b.goto_tb(0)
    _, state, _ = run(block)
    assert state["x0"] == 0xFFFF_FFFF_FFFF_80FF
    assert state["x1"] == 0x80
    assert state["q0"] == 0x80FF << 24


# -- control flow and exits ------------------------------------------------------------

def test_brcond_and_br_follow_labels():
    g = ARCH.ir_globals
    block, b = new_block()
    skip, end = b.new_label(), b.new_label()
    b.brcond(Cond.ltu, g["x0"], 10, skip)
    b.mov(g["x1"], 100)
    b.br(end)
    b.set_label(skip)
    b.mov(g["x1"], 200)
    b.set_label(end)
    b.exit_tb(b.add(g["x1"], 1), Exit.SYSCALL)
    for x0, x1 in ((3, 200), (10, 100)):
        info, state, _ = run(block, InterpState.from_dict(ARCH, {"x0": x0}))
        assert state["x1"] == x1
        assert info == ExitInfo("exit_tb", x1 + 1, code=Exit.SYSCALL)
        assert state["pc"] == x1 + 1


def test_mid_block_exit_and_goto_ptr():
    g = ARCH.ir_globals
    block, b = new_block()
    other = b.new_label()
    b.brcond(Cond.eq, g["x0"], 0, other)
    b.goto_tb(0x4000)
    b.set_label(other)
    b.goto_ptr(g["x30"])
    info, state, _ = run(block, InterpState.from_dict(ARCH, {"x0": 1}))
    assert info == ExitInfo("goto_tb", 0x4000)
    info, state, _ = run(block, InterpState.from_dict(ARCH, {"x0": 0, "x30": 0x5554}))
    assert info == ExitInfo("goto_ptr", 0x5554) and state["pc"] == 0x5554


def test_call_uses_the_helper_table():
    block, b = new_block()
    b.mov(ARCH.ir_globals["x0"], b.call(0, 2, 3, 4))
    b.goto_tb(0)
    helpers = [HelperDef(0, "fma", lambda a, b_, c: a * b_ + c)]
    _, state, _ = run(block, helpers=helpers)
    assert state["x0"] == 10


def test_reading_an_unwritten_local_is_an_error():
    block, b = new_block()
    t = b.new_local()
    b.mov(ARCH.ir_globals["x0"], t)
    b.goto_tb(0)
    with pytest.raises(IRError, match="read before"):
        run(block)


def test_state_dict_round_trip():
    values = {"x0": 1, "sp": M, "nf": 1, "q3": (1 << 128) - 2, "pc": 0x400000}
    s = InterpState.from_dict(ARCH, values)
    d = s.to_dict()
    assert {k: d[k] for k in values} == values
    assert s.read_u64(ARCH.ir_globals["sp"].offset) == M
    t = s.copy()
    assert t == s
    t["x0"] = 2
    assert t != s and s.diff(t) == {"x0": (1, 2)}
    assert InterpState(ARCH, t.env)["v3"] == (1 << 128) - 2    # aliases work
