"""Interpreter of the ``vec`` op: Arm's lane semantics (the "arm_vec"
definitions the AArch64 target declares, tcgpy.ir.semantics) on the
interpreter's env image."""
from __future__ import annotations

from . import semantics
from .core import Insn
from .interp import Machine, executes
from .ops import Op


@executes(Op.vec)
def interp_vec(m: Machine, insn: Insn) -> None:
    kind, d, a, b, esz, oprsz, imm = insn.consts
    # (looked up here, not when imported: the interpreter comes with the
    # optimiser's constant folding, which most vec-free runs need)
    arm_vec = semantics.lookup("arm_vec")
    m.set(insn.outs[0], arm_vec.run(m.env, kind, d, a, b, esz, oprsz, imm, m.get(insn.ins[0])))
