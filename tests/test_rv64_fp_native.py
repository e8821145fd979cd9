"""The rvfp op (RISC-V F/D arithmetic) three ways: the LLVM backend's host
code (backends/llvm/lower_rvfp.py, both tiers), the cold tier's interpreter
and the reference interpreter, each held to softfloat's exact path
(``exact_operate``/``fma``, not its own host shortcut) on operands chosen to
sit on both sides of every condition the host code checks -- zeros,
subnormals, the tininess and residual thresholds, overflow, infinities,
quiet and signalling NaNs, singles that are not NaN-boxed, integers at the
conversion limits -- in all five rounding modes, static and dynamic (frm),
with fflags.NX clear and set."""
from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tcgpy
from tcgpy.frontends.riscv64 import softfloat as sf
from tcgpy.ir import interp_fast, randgen, rvfp
from tcgpy.ir.builder import Builder
from tcgpy.ir.core import Block
from tcgpy.ir.helpers import HELPERS
from tcgpy.ir.interp import FlatMemory, InterpState, interpret
from tests.test_backend import check_block, jit_compile, jit_enter

# The op is target-neutral IR: it runs on the AArch64 harness's globals.
ARCH = tcgpy.frontends.get_arch("aarch64")
IN = ("x0", "x1", "x2", "x3")                 # a, b, c, fcsr
OUT = ("x4", "x5")                            # result, fcsr with the flags accrued
MEM = FlatMemory(randgen.DATA_BASE, bytearray(randgen.DATA_SIZE))


def _bits(value: float, fmt: int) -> int:
    if fmt:
        return struct.unpack("<Q", struct.pack("<d", value))[0]
    return struct.unpack("<I", struct.pack("<f", value))[0]


def _fp_values(fmt: int):
    """Bit patterns of one format: special encodings, values near the host
    code's thresholds, ordinary and random ones."""
    f = sf.FMTS[fmt]
    emin, prec = 1 - f.bias, f.mbits + 1
    specials = [0, f.sign_bit, f.inf, f.inf | f.sign_bit, f.qnan, f.qnan | f.sign_bit,
                f.inf | 1, f.inf | 1 | f.sign_bit, f.qnan | 5,               # sNaN, NaN payloads
                1, (1 << f.mbits) - 1, 1 << f.mbits, (1 << f.mbits) | 1,      # subnormals, min normal
                f.inf - 1, (f.inf - 1) | f.sign_bit, _bits(1.0, fmt), _bits(-1.0, fmt),
                _bits(0.5, fmt), _bits(2.0 ** 31, fmt), _bits(-2.0 ** 31, fmt), _bits(2.0 ** 63, fmt),
                _bits(2.0 ** 32, fmt), _bits(-2.0 ** 63, fmt), _bits(2.0 ** 64, fmt)]
    thresholds = st.builds(
        lambda e, m, s: s | (e + f.bias) << f.mbits | m,
        st.sampled_from([emin, emin + 1, emin + 2, emin + prec - 1, emin + prec, emin + prec + 1,
                         emin + prec + 2, emin // 2, emin // 2 + prec // 2, -emin - 2, -emin - 1,
                         -emin, 30, 31, 32, 62, 63, 64]),
        st.integers(0, (1 << f.mbits) - 1), st.sampled_from([0, f.sign_bit]))
    ordinary = st.builds(lambda e, m, s: s | (e + f.bias) << f.mbits | m,
                         st.integers(-20, 20), st.integers(0, (1 << f.mbits) - 1),
                         st.sampled_from([0, f.sign_bit]))
    small_int = st.integers(-300, 300).map(lambda i: _bits(float(i), fmt))
    halves = st.integers(-300, 300).map(lambda i: _bits(i + 0.5, fmt))
    return st.one_of(st.sampled_from(specials), thresholds, ordinary, small_int, halves,
                     st.integers(0, (1 << f.width) - 1))


def _register(fmt: int):
    """An f register's value: singles NaN-boxed, now and then not."""
    if fmt:
        return _fp_values(1)
    boxed = _fp_values(0).map(lambda v: sf.BOX | v)
    unboxed = st.one_of(_fp_values(0), st.integers(0, (1 << 64) - 1))
    return st.one_of(boxed, boxed, boxed, boxed, unboxed)


def _int_register():
    edges = [0, 1, (1 << 64) - 1, 1 << 63, (1 << 63) - 1, 1 << 31, (1 << 31) - 1, (1 << 32) - 1,
             1 << 32, (1 << 24) + 1, (1 << 53) + 1, 0xFFFF_FFFF_8000_0000, 0x0123_4567_89AB_CDEF]
    return st.one_of(st.sampled_from(edges), st.integers(-2000, 2000).map(lambda i: i % (1 << 64)),
                     st.integers(0, (1 << 64) - 1),
                     st.integers(0, 63).flatmap(lambda n: st.integers(0, (1 << n) - 1)))


# fcsr: frm (0..4, the legal ones) and random accrued flags
FCSR = st.builds(lambda frm, flags: frm << rvfp.FRM_SHIFT | flags, st.integers(0, 4),
                 st.sampled_from([0, rvfp.NX, 31, rvfp.NV, rvfp.NX | rvfp.UF]))
RMS = [rvfp.RNE, rvfp.RTZ, rvfp.RDN, rvfp.RUP, rvfp.RMM, rvfp.DYN, rvfp.DYN]
# op -> the rounding mode matters / an integer kind / the operand count
ROUNDED = {rvfp.OP_ADD, rvfp.OP_SUB, rvfp.OP_MUL, rvfp.OP_DIV, rvfp.OP_SQRT, rvfp.OP_FMA,
           rvfp.OP_TO_INT, rvfp.OP_FROM_INT, rvfp.OP_CVT}
KINDED = {rvfp.OP_TO_INT, rvfp.OP_FROM_INT}


def _exact(control: int, a: int, b: int, c: int, fcsr: int) -> tuple[int, int]:
    """softfloat's exact path (no host shortcut): (result, fcsr)."""
    op, fmt, rm, kind = rvfp.fields(rvfp.resolve_rm(control, fcsr))
    f = sf.FMTS[fmt]
    if op == rvfp.OP_FMA:
        r, flags = sf.fma(f, sf._in(f, a), sf._in(f, b), sf._in(f, c), rm)
        r = sf._out(f, r)
    else:
        r, flags = sf.exact_operate(op, f, rm, kind, a, b)
    return r, fcsr | flags


def _block(control: int) -> Block:
    g = ARCH.ir_globals
    block = Block(0x1000, globals=g)
    b = Builder(block)
    b.insn_start(0x1000)
    r, fcsr = b.rvfp(control, g["x3"], g["x0"], g["x1"], g["x2"])
    b.mov(g["x4"], r)
    b.mov(g["x5"], fcsr)
    b.goto_tb(0x1004)
    return block


_COMPILED: dict[tuple[int, bool], object] = {}


def _three_ways(control: int, a: int, b: int, c: int, fcsr: int) -> None:
    block = _block(control)
    state = InterpState(ARCH.layout)
    for name, v in zip(IN, (a, b, c, fcsr)):
        state[name] = v
    want = _exact(control, a, b, c, fcsr)
    # the reference interpreter (softfloat.evaluate, with its host shortcut)
    ref = state.copy()
    interpret(block, ref, MEM.copy())
    assert (ref["x4"], ref["x5"]) == want, _describe(control, a, b, c, fcsr)
    # the cold tier
    cold = state.copy()
    env = memoryview(cold.env)
    interp_fast.run(interp_fast.plan(block), env, env.cast("Q"), MEM.copy(), helpers=HELPERS)
    env.release()
    assert (cold["x4"], cold["x5"]) == want, _describe(control, a, b, c, fcsr)
    # host code, first tier and hot tier
    for hot in (False, True):
        tb = _COMPILED.get((control, hot))
        if tb is None:
            tb = _COMPILED[control, hot] = jit_compile(block, hot)
        check_block(block, state, MEM, tb=tb)


def _describe(control, a, b, c, fcsr) -> str:
    op, fmt, rm, kind = rvfp.fields(control)
    return (f"{rvfp.OP_NAMES[op]}.{'sd'[fmt]} rm={rm} kind={kind} a={a:#x} b={b:#x} c={c:#x} "
            f"fcsr={fcsr:#x}")


def _case(op: int, fmt: int):
    ints = op == rvfp.OP_FROM_INT
    source_fmt = 1 - fmt if op == rvfp.OP_CVT else fmt
    operand = _int_register() if ints else _register(source_fmt)
    return st.tuples(
        st.sampled_from(RMS if op in ROUNDED else [0]),
        st.sampled_from(range(4) if op in KINDED else [0]),
        operand, _register(fmt), _register(fmt), FCSR)


SETTINGS = settings(max_examples=250, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("fmt", [0, 1], ids=["s", "d"])
@pytest.mark.parametrize("op", range(len(rvfp.OP_NAMES)), ids=rvfp.OP_NAMES)
def test_host_code_and_interpreters_equal_softfloat(op, fmt):
    @SETTINGS
    @given(_case(op, fmt))
    def check(case):
        rm, kind, a, b, c, fcsr = case
        if op == rvfp.OP_CVT:
            b = c = 0
        _three_ways(rvfp.ctl(op, fmt, rm, kind), a, b, c, fcsr)
    check()


@pytest.mark.parametrize("rm,frm", [(rvfp.RNE, 0), (rvfp.RTZ, 0), (rvfp.RDN, 0), (rvfp.RUP, 0),
                                    (rvfp.RMM, 0), *((rvfp.DYN, m) for m in range(5))])
def test_common_cases_stay_in_host_code(rm, frm, monkeypatch):
    """Ordinary operands, exact and inexact, never call softfloat in any
    static rounding mode or with frm round-to-nearest-even (fused
    multiply-add: in round-to-nearest-even, doubles with NX set): the host
    code decides them -- a guard against a fast path that never fires."""
    calls = []
    monkeypatch.setattr(sf, "operate", lambda *a: calls.append(a) or (0, 0))
    monkeypatch.setattr(sf, "operate_fma", lambda *a: calls.append(a) or (0, 0))
    ops = [rvfp.OP_MIN, rvfp.OP_FLT, rvfp.OP_CLASS]
    if rm != rvfp.DYN or frm == rvfp.RNE:       # frm's directed modes: softfloat
        ops += [rvfp.OP_ADD, rvfp.OP_SUB, rvfp.OP_MUL, rvfp.OP_DIV, rvfp.OP_SQRT, rvfp.OP_CVT,
                rvfp.OP_TO_INT]
    if (rm, frm) in ((rvfp.RNE, 0), (rvfp.DYN, 0)):
        ops.append(rvfp.OP_FMA)
    for fmt in (0, 1):
        for a, b in ((1.0, 3.0), (0.1, -3.0), (-2.5, 0.7)):
            for op in ops:
                control = rvfp.ctl(op, fmt, rm if op in ROUNDED else 0)
                # fcvt: to the format from the other one
                src = 1 - fmt if op == rvfp.OP_CVT else fmt
                x = _bits(abs(a) if op == rvfp.OP_SQRT else a, src) | (0 if src else sf.BOX)
                y = _bits(b, fmt) | (0 if fmt else sf.BOX)
                state = InterpState(ARCH.layout)
                # NX set only for doubles: a double fma needs it, a single none
                fcsr = frm << rvfp.FRM_SHIFT | (rvfp.NX if fmt else 0)
                for name, v in zip(IN, (x, y, y, fcsr)):
                    state[name] = v
                tb = _COMPILED.get((control, True))
                if tb is None:
                    tb = _COMPILED[control, True] = jit_compile(_block(control), True)
                jit_enter(tb, state, MEM)
                assert calls == [], _describe(control, x, y, y, fcsr)
def _specials(fmt: int) -> list[int]:
    f = sf.FMTS[fmt]
    v = [0, f.sign_bit, f.inf, f.inf | f.sign_bit, f.qnan, f.inf | 1, 1, (1 << f.mbits) - 1,
         1 << f.mbits, f.inf - 1, _bits(1.0, fmt), _bits(-3.0, fmt), _bits(0.1, fmt)]
    return v if fmt else [sf.BOX | x for x in v] + [_bits(1.0, 0)]          # (and one unboxed)


@pytest.mark.parametrize("fmt", [0, 1], ids=["s", "d"])
def test_every_pair_of_special_values(fmt):
    """Each two-operand operation on every pair of special values (hypothesis
    samples them too, but a pair such as 0 / inf is one in hundreds)."""
    ops = (rvfp.OP_ADD, rvfp.OP_SUB, rvfp.OP_MUL, rvfp.OP_DIV, rvfp.OP_MIN, rvfp.OP_MAX,
           rvfp.OP_FEQ, rvfp.OP_FLT, rvfp.OP_FLE)
    values = _specials(fmt)
    for op in ops:
        control = rvfp.ctl(op, fmt, rvfp.DYN if op in ROUNDED else 0)
        tb = jit_compile(_block(control), True)
        for a in values:
            for b in values:
                state = InterpState(ARCH.layout)
                for name, v in zip(IN, (a, b, 0, rvfp.NV)):
                    state[name] = v
                got, _, _ = jit_enter(tb, state, MEM)
                assert (got["x4"], got["x5"]) == _exact(control, a, b, 0, rvfp.NV), \
                    _describe(control, a, b, 0, rvfp.NV)


@pytest.mark.parametrize("a,b,c", [
    (2.0 ** -30, 2.0 ** -30, 1.0),      # a*b + c is 1 + 2^-60: a double rounds it to 1.0
    (1.5, 2.0, 0.25),                   # exact
    (3.0, 1 / 3, -1.0),                 # the product's rounding error is all that is left
    (2.0 ** 20 + 1, 2.0 ** 20 - 1, -(2.0 ** 40)),   # exact cancellation to -1
    (1.0 + 2.0 ** -23, 1.0 + 2.0 ** -23, -1.0),
])
def test_single_fma_exactness(a, b, c):
    """Single fused multiply-adds with NX clear, where the double sum and
    the single result agree but the exact value is neither."""
    for neg in (0, sf.S.sign_bit):
        x, y, z = (sf.BOX | _bits(v, 0) for v in (a, b, c))
        _three_ways(rvfp.ctl(rvfp.OP_FMA, 0, rvfp.RNE), x ^ neg, y, z ^ neg, 0)


def _cancelling(fmt: int) -> list[tuple[int, int, int]]:
    """(a, b, c) register values whose a*b + c cancels: exactly (the product
    representable, c its negation), and where the product's last bit is
    finer than the smallest subnormal (the zero a double rounds to may hide
    an underflow)."""
    f = sf.FMTS[fmt]
    emin, prec = 1 - f.bias, f.mbits + 1
    fine = (1 + 2.0 ** -(prec - 1)) * 2.0 ** ((emin - prec) // 2 + 1)   # its square: last bit < 2^(emin-prec+1)
    box = 0 if fmt else sf.BOX
    out = []
    for a, b in ((-1.0, 0.95), (-1.0, -0.3), (1.5, 2.0), (2.0 ** 40, 3.0), (fine, fine), (fine, -fine)):
        p = struct.unpack("<d" if fmt else "<f", struct.pack("<d" if fmt else "<f", a * b))[0]
        out.append(tuple(box | _bits(v, fmt) for v in (a, b, -p)))
    return out


@pytest.mark.parametrize("fmt", [0, 1], ids=["s", "d"])
def test_fma_cancelling_to_zero(fmt, monkeypatch):
    """a*b + c == 0 (compilers' x - x as an FMA of -1, x, x: bench_fp's
    mandelbrot has one per row) equals softfloat three ways with fflags.NX
    clear and set, and stays in host code where the zero is exact; where the
    product is finer than the smallest subnormal, softfloat decides."""
    cases = _cancelling(fmt)
    for a, b, c in cases:
        for fcsr in (0, rvfp.NX):
            for rm in (rvfp.RNE, rvfp.DYN, rvfp.RDN):
                _three_ways(rvfp.ctl(rvfp.OP_FMA, fmt, rm), a, b, c, fcsr)
    calls = []
    monkeypatch.setattr(sf, "operate_fma", lambda *a: calls.append(a) or (0, 0))
    control = rvfp.ctl(rvfp.OP_FMA, fmt, rvfp.RNE)
    tb = jit_compile(_block(control), True)
    for i, (a, b, c) in enumerate(cases):
        state = InterpState(ARCH.layout)
        for name, v in zip(IN, (a, b, c, 0)):
            state[name] = v
        got, _, _ = jit_enter(tb, state, MEM)
        exact = i < 4
        assert (calls == []) == exact, _describe(control, a, b, c, 0)
        if exact:
            assert got["x4"] == (0 if fmt else sf.BOX) and got["x5"] == 0     # +0, no flags
        calls.clear()
