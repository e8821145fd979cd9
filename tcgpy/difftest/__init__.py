"""Differential testing of tcgpy against Unicorn.

Modules, in data-flow order:

- ``forms``: registry of random-encoding generators per instruction class
  (filled by ``a64_forms_*.py``) and the start-state conventions they rely on.
- ``engine``: cases (code + start state), the Unicorn and tcgpy runners, the
  comparison of every register and the data page, and :class:`engine.Engine`.
- ``known_differences``: Unicorn deviations from the architecture, with proof.
- ``minimize``: shrink a failing case (instructions, register values, data).
- ``casefile``: self-contained JSON case files and ``replay``.
- ``campaign``: many cases in chunks, per-class statistics; one driver for
  every executor.
- ``pools``: executors on this machine (in process, forked worker processes).
- ``cluster``: the executor on a Dask cluster (optional extra ``cluster``).
- ``journal``: a campaign's record in its ``--out`` directory, for ``--resume``.
- ``testing``: test-only injection of a broken translation.

From the command line::

    tcgpy difftest aarch64 --count 10000 --jobs 2 --out cases/
    tcgpy difftest aarch64 --count 100000000 --cluster tcp://HOST:8786 --out cases/
    tcgpy difftest --resume cases/
    tcgpy difftest --replay cases/000123-addsub_imm-....json

From Python::

    from tcgpy.difftest.engine import Engine, campaign_case, select_classes
    eng = Engine("aarch64")
    r = eng.run(campaign_case("aarch64", select_classes("aarch64"), seed=1, index=0, length=4))
    assert r.status == "pass", r.mismatch
"""
