"""Differential testing of tcgpy against Unicorn.

The package is an architecture-neutral engine; each target's part lives in
the folder named after it (``tcgpy/difftest/<target>/``), which the target
registry names (``tcgpy.targets.Target.difftest``): that module's
``DIFF_ARCH`` is an :class:`ArchDef` (what its register table does not say,
its known differences) and importing it registers its form classes.  A
target whose difftest is a campaign of its own (a KVM-only target: the host
CPU against Unicorn) declares a :class:`StandaloneDifftest` instead.  No
module of the engine names a target; tests/test_difftest_boundary.py checks it.

The engine's modules, in data-flow order:

- ``forms``: the registry of random-encoding generators per target and
  class, and the start-state conventions they rely on.
- ``archdef``: what a target declares (:class:`ArchDef`) and the random
  values start states are drawn from.
- ``engine``: cases (code + start state), the Unicorn and tcgpy runners, the
  comparison of every register and the data page, and :class:`engine.Engine`.
- ``known_differences``: the shape of a known Unicorn deviation (with proof).
- ``minimize``: shrink a failing case (instructions, register values, data).
- ``casefile``: self-contained JSON case files and ``replay``.
- ``campaign``: many cases in chunks, per-class statistics; one driver for
  every executor.
- ``pools``: executors on this machine (in process, forked worker processes).
- ``cluster``: the executor on a Dask cluster (optional extra ``cluster``).
- ``journal``: a campaign's record in its ``--out`` directory, for ``--resume``.
- ``testing``: test-only injection of a broken translation.

The public interface: what a target's folder may use, imported from this
package (``from .. import ...``), never a module's private (``_``) name.

Form generators
    ``form_class(arch, name, unicorn_cpu=None)`` registers ``gen(rng, pos) ->
    word``; ``Pos`` (the word's index and the sequence length); ``FormClass``;
    ``FORMS`` (the registry, arch -> name -> FormClass) and ``classes(arch)``;
    the layout ``CODE_BASE``, ``CODE_SIZE``, ``DATA_BASE``, ``DATA_SIZE``.
The target's declaration
    ``ArchDef``, ``StandaloneDifftest``; start values ``random_value(rng)``,
    ``data_pointer(rng)``, ``EDGE_VALUES``, ``MASK64``.
Known differences
    ``KnownDifference`` and the predicates ``any_word``, ``only_fields``,
    ``subject_fault_pc``.  A replay that reruns a case with Unicorn's
    behaviour substituted uses ``case_emulator(case)`` (a tcgpy emulator
    holding the case, and its ``DiffArch``), ``tcgpy_event(exc, da)``,
    ``Outcome``, ``Event``, ``END``, ``compare(da, reference, subject)``,
    ``diff_arch(arch)``, ``case_cpu(case)`` and the ``Case`` it is given.
Test-only
    ``patched_translation(arch, word, after)`` (an injected translation bug,
    for ``ArchDef.injections``).

From the command line (ARCH: a target's name, ``tcgpy difftest --help`` lists them)::

    tcgpy difftest ARCH --count 10000 --jobs 2 --out cases/
    tcgpy difftest ARCH --count 100000000 --cluster tcp://HOST:8786 --out cases/
    tcgpy difftest --resume cases/
    tcgpy difftest --replay cases/000123-CLASS-....json

From Python::

    from tcgpy.difftest.engine import Engine, campaign_case, select_classes
    eng = Engine(arch)
    r = eng.run(campaign_case(arch, select_classes(arch), seed=1, index=0, length=4))
    assert r.status == "pass", r.mismatch
"""
from __future__ import annotations

from .archdef import EDGE_VALUES, MASK64, ArchDef, StandaloneDifftest, data_pointer, random_value
from .engine import (END, Case, DiffArch, Event, Outcome, case_cpu, case_emulator, compare, diff_arch,
                     tcgpy_event)
from .forms import CODE_BASE, CODE_SIZE, DATA_BASE, DATA_SIZE, FORMS, FormClass, Pos, classes, form_class
from .known_differences import KnownDifference, any_word, only_fields, subject_fault_pc
from .testing import patched_translation

__all__ = [
    # form generators
    "form_class", "Pos", "FormClass", "FORMS", "classes",
    "CODE_BASE", "CODE_SIZE", "DATA_BASE", "DATA_SIZE",
    # the target's declaration
    "ArchDef", "StandaloneDifftest", "random_value", "data_pointer", "EDGE_VALUES", "MASK64",
    # known differences
    "KnownDifference", "any_word", "only_fields", "subject_fault_pc",
    "case_emulator", "tcgpy_event", "Outcome", "Event", "END", "compare", "diff_arch",
    "case_cpu", "Case", "DiffArch",
    # test-only
    "patched_translation",
]
