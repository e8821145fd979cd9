"""Registry of random instruction-form generators, by architecture and class.

A form class is a named generator of random, *valid* encodings of the forms a
frontend claims (``gen(rng, pos) -> int``, one instruction word, as long as
the target's length rule says).  The difftest draws sequences from these
classes; ``--classes``/``--list-classes`` name them.  A target's difftest
module (tcgpy.targets.Target.difftest) registers its classes on import.

Conventions shared by generators and the difftest engine (tcgpy/difftest):
- The data page is mapped read/write at DATA_BASE, DATA_SIZE bytes, random content.
- General registers the target's ArchDef lists in ``ptr_regs`` start as
  pointers into the middle of the data page (DATA_BASE + DATA_SIZE//2 + a small
  random offset, 16-byte aligned three times out of four, any byte otherwise,
  within +-512 of the middle); memory forms use them as base registers, with
  offsets that stay inside the page.
- General registers in ``small_regs`` start with small values (0..255): index registers.
- Other general registers hold random values, edge values (0, 1, -1, INT64_MIN,
  2**31, 2**32-1, ...) drawn often; vector registers hold FP special values
  often (tcgpy.difftest.fpvalues); the other registers are drawn as the
  ArchDef's ``start`` says (the target's folder documents its choices).
- A class may name the Unicorn CPU model it needs (``unicorn_cpu``, a key of
  the ArchDef's ``unicorn_cpus``: extensions Unicorn's default model lacks).
  Its cases run on that model and mix only with classes naming the same
  model: models differ in more than the extensions, so the other classes
  stay on the default, as they were difftested.
- The code sequence is at CODE_BASE; the run stops after the last word (the
  "end") or after a bounded instruction count.  A branch generator picks its
  target from ``pos`` (index of this instruction, length of the sequence).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

CODE_BASE = 0x100000
CODE_SIZE = 0x1000          # mapped r-x; the bytes after the sequence are zero
DATA_BASE = 0x200000
DATA_SIZE = 0x10000


@dataclass(frozen=True)
class Pos:
    index: int     # this instruction's index in the sequence
    length: int    # number of instructions in the sequence


@dataclass(frozen=True)
class FormClass:
    arch: str
    name: str
    gen: Callable[[random.Random, Pos], int]
    doc: str
    unicorn_cpu: str | None = None      # a key of engine.ArchDef.unicorn_cpus; None: default


FORMS: dict[str, dict[str, FormClass]] = {}


def form_class(arch: str, name: str, unicorn_cpu: str | None = None):
    """Decorator registering ``gen(rng, pos) -> word`` as form class ``name`` of ``arch``,
    difftested on Unicorn's CPU model ``unicorn_cpu`` (None: the default)."""
    def register(fn):
        table = FORMS.setdefault(arch, {})
        if name in table:
            raise ValueError(f"form class {arch}/{name} registered twice")
        table[name] = FormClass(arch, name, fn, (fn.__doc__ or "").strip().split("\n")[0],
                                unicorn_cpu)
        return fn
    return register


def classes(arch: str) -> dict[str, FormClass]:
    """All form classes of ``arch`` or an alias of it (imports the arch's
    generator modules)."""
    from ..targets import lookup
    target = lookup(arch)
    target.diff_def                 # importing the target's difftest module registers its forms
    return FORMS.get(target.name, {})
