"""Per-op facts the passes test on every insn, precomputed as sets of op
*names*.  Why names: on CPython 3.11 hashing an Enum member or testing an
IntFlag costs 0.1-0.9 µs (pure-Python __hash__/__and__), while ``op._name_``
is a plain attribute whose str hash is cached, and the passes sit on the
translation hot path."""
from __future__ import annotations

from ..ops import F, Op

PURE = frozenset(op._name_ for op in Op if op.value.nout == 1 and op.value.flags == F.NONE)
BB_END = frozenset(op._name_ for op in Op if op.value.flags & F.BB_END)
# Ops after which guest-visible globals may be observed or control may join
# from elsewhere.
BARRIER = frozenset(op._name_ for op in Op
                    if op.value.flags & (F.BB_END | F.MEMORY | F.CALL | F.BRANCH)
                    or op is Op.set_label)

MOV = Op.mov
ADD = Op.add
BR = Op.br
BRCOND = Op.brcond
SET_LABEL = Op.set_label
# Python hooks may change any global (tcgpy/hooks.py): what a pass knows of
# values does not survive one, as at a label.
HOOK = Op.hook
INSN_START = Op.insn_start
