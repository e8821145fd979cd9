"""Interpreter of the ``vec`` op: the lane semantics of tcgpy.frontends.aarch64.vecsem on
the interpreter's env image."""
from __future__ import annotations

from ..frontends.aarch64 import vecsem as vector
from .core import Insn
from .interp import Machine, executes
from .ops import Op


@executes(Op.vec)
def interp_vec(m: Machine, insn: Insn) -> None:
    kind, d, a, b, esz, oprsz, imm = insn.consts
    m.set(insn.outs[0], vector.run(m.env, kind, d, a, b, esz, oprsz, imm, m.get(insn.ins[0])))
