"""Every constant combination of the vec op the A64 frontend emits, found
by translating every encoding of the Advanced SIMD forms (register fields
fixed, every other field enumerated: about 50,000 words, half a second),
so that lowering tests cover exactly what guests can reach and follow the
frontend when it changes."""
from __future__ import annotations

import functools
import itertools
from collections import defaultdict

import tcgpy
from tcgpy.ir.builder import Builder
from tcgpy.ir.core import Block
from tcgpy.ir.ops import Op
from tcgpy.frontends.aarch64.vecsem import VecOp

ARCH = tcgpy.frontends.get_arch("aarch64")
_REGISTERS = {"rd": 1, "rn": 2, "rm": 3, "ra": 4}
_MODULES = ("insn_simd", "insn_fp", "insn_fp16")


def _words():
    for p in ARCH.decoder.patterns:
        if p.trans.__module__.rsplit(".", 1)[-1] not in _MODULES:
            continue
        free = [f for f in p.fields if f.name not in _REGISTERS]
        fixed = p.value
        for f in p.fields:
            if f.name in _REGISTERS:
                fixed |= (_REGISTERS[f.name] & ((1 << f.width) - 1)) << f.shift
        for values in itertools.product(*[range(1 << f.width) for f in free]):
            yield fixed | sum(v << f.shift for f, v in zip(free, values))


def _translate(word: int) -> Block | None:
    """The IR of ``word`` from the translator the decoder would pick."""
    for p in ARCH.decoder.lookup(word):
        block = Block(0x1000, globals=ARCH.ir_globals)
        ctx = ARCH.DisasContext(Builder(block), block)
        ctx.pc, ctx.next_pc = 0x1000, 0x1004
        if p.trans(ctx, p.extract(word)) is not False:
            return block
    return None


@functools.lru_cache(maxsize=None)
def frontend_vec_consts() -> dict[VecOp, frozenset[tuple[int, int, int]]]:
    """VecOp -> the (esz, oprsz, imm) the frontend emits it with."""
    seen: dict[VecOp, set] = defaultdict(set)
    for word in _words():
        block = _translate(word)
        for insn in block.insns if block is not None else ():
            if insn.op is Op.vec:
                kind, _d, _a, _b, esz, oprsz, imm = insn.consts
                seen[kind].add((esz, oprsz, imm))
    return {k: frozenset(v) for k, v in seen.items()}
