"""The cost of hooks (tcgpy/hooks.py) on the chained loops of benchmarks.py,
in one process:

* a per-instruction Python HOOK_CODE on tcgpy and the same hook on Unicorn;
* the native counters (instructions, blocks, loads, stores everywhere)
  against the same loop unhooked -- the goal is at most 1.3x;
* unhooked code while a hook covers other code -- the goal is no slower.

Every ratio is a time ratio (the first engine's time over the second's):
above 1 the first is slower.  Best of ``repeat`` runs each; tcgpy's times
are of a loop's second run in one emulator (translated and hot already),
Unicorn's of its only run (its translation is cheap).
"""
from __future__ import annotations

import time

from . import benchmarks as b
from .hooks import COUNT_KINDS, HOOK_CODE

# Far from the workloads' code, data and stack: a hook there covers nothing they run.
ELSEWHERE = (0x7000_0000, 0x7000_0fff)


def _tcgpy_run(code: bytes, regs: dict[str, int], end: int, arch: str, setup) -> tuple[float, int, object]:
    emu = b.tcgpy.Emulator(arch)
    emu.mem_map(b.CODE, 0x10000, "rwx")
    emu.mem_map(b.DATA, b.DATA_SIZE, "rw")
    emu.mem_map(b.STACK - 0x10000, 0x10000, "rw")
    emu.mem_write(b.CODE, code)
    extra = setup(emu)
    # The second run is timed: translation and the hot tier's compiles are
    # done by then, so the ratios are those of the code each variant runs.
    for _ in range(2):
        for k, v in regs.items():
            emu.reg_write(k, v)
        t0 = time.perf_counter()
        emu.run(b.CODE, until=end)
        dt = time.perf_counter() - t0
    return dt, emu.last_run_insns, extra


def _unicorn_code_hook(code: bytes, regs: dict[str, int], end: int, arch: str) -> tuple[float, int]:
    uc, reg_id = b._unicorn(arch)
    uc.mem_map(b.CODE, 0x10000)
    uc.mem_map(b.DATA, b.DATA_SIZE)
    uc.mem_map(b.STACK - 0x10000, 0x10000)
    uc.mem_write(b.CODE, code)
    for k, v in regs.items():
        uc.reg_write(reg_id(k), v)
    calls = [0]

    def on_insn(uc, address, size, user_data):
        calls[0] += 1
    from unicorn import UC_HOOK_CODE
    uc.hook_add(UC_HOOK_CODE, on_insn)
    t0 = time.perf_counter()
    uc.emu_start(b.CODE, end)
    return time.perf_counter() - t0, calls[0]


def _code_hook(emu):
    calls = [0]

    def on_insn(emu, address, size, user_data):
        calls[0] += 1
    emu.hook_add(HOOK_CODE, on_insn)
    return calls


def _counters(emu):
    return [emu.counter_add(kind) for kind in COUNT_KINDS]


def _hook_elsewhere(emu):
    emu.hook_add(HOOK_CODE, lambda *a: None, begin=ELSEWHERE[0], end=ELSEWHERE[1])


def _best_interleaved(variants: dict, repeat: int) -> dict:
    """The fastest of ``repeat`` runs of each variant, the variants taking
    turns (a load that comes and goes on the machine then reaches them all)."""
    best = {}
    for _ in range(repeat):
        for name, fn in variants.items():
            r = fn()
            if name not in best or r[0] < best[name][0]:
                best[name] = r
    return best


def run_hooks(scale: float = 1.0, hook_scale: float = 0.05, repeat: int = 3, arch: str = "aarch64") -> dict:
    """``scale`` sizes the loops for the native runs (as ``tcgpy bench
    --scale``), ``hook_scale`` those with a Python hook per instruction."""
    from .targets import lookup
    module = lookup(arch).bench_module
    rows = []
    py_loops = {name: (code, end, regs) for name, code, end, regs in
                module.bench_workloads(hook_scale, b.CODE, b.DATA, b.STACK)}
    for name, code, end, regs in module.bench_workloads(scale, b.CODE, b.DATA, b.STACK):
        pcode, pend, pregs = py_loops[name]
        best = _best_interleaved({
            "plain": lambda: _tcgpy_run(code, regs, end, arch, lambda e: None),
            "counted": lambda: _tcgpy_run(code, regs, end, arch, _counters),
            "elsewhere": lambda: _tcgpy_run(code, regs, end, arch, _hook_elsewhere),
            "hooked": lambda: _tcgpy_run(pcode, pregs, pend, arch, _code_hook),
            "uc_hooked": lambda: _unicorn_code_hook(pcode, pregs, pend, arch),
        }, repeat)
        plain, counted, elsewhere, hooked, uc_hooked = (
            best[k] for k in ("plain", "counted", "elsewhere", "hooked", "uc_hooked"))
        insns_counted = counted[2][0].value // 2        # both runs
        rows.append({
            "workload": name,
            "guest_insns": plain[1],
            "counters_exact": insns_counted == plain[1],
            "counters_ratio": counted[0] / plain[0],          # counted time / unhooked time
            "hook_elsewhere_ratio": elsewhere[0] / plain[0],  # with a hook elsewhere / without
            "code_hook_insns": hooked[2][0] // 2,
            "tcgpy_code_hook_mips": hooked[2][0] / 2 / hooked[0] / 1e6,
            "unicorn_code_hook_mips": uc_hooked[1] / uc_hooked[0] / 1e6,
            "code_hook_ratio": hooked[0] / uc_hooked[0],      # tcgpy time / Unicorn time, same hook
            "same_hook_calls": hooked[2][0] == 2 * uc_hooked[1],
        })
    return {"arch": arch, "hooks": rows}


def format_hooks_report(res: dict) -> str:
    out = ["ratios are time ratios: above 1 the first named is slower (lower is better)", "",
           f"{'workload':<10} {'py hook: tcgpy':>15} {'unicorn':>9} {'tcgpy/uc':>9} "
           f"{'counters/plain':>15} {'hook elsewhere/plain':>21}"]
    for r in res["hooks"]:
        out.append(f"{r['workload']:<10} {r['tcgpy_code_hook_mips']:>10.2f} MIPS "
                   f"{r['unicorn_code_hook_mips']:>4.2f} MIPS {r['code_hook_ratio']:>8.2f}x "
                   f"{r['counters_ratio']:>14.2f}x {r['hook_elsewhere_ratio']:>20.2f}x"
                   + ("" if r["counters_exact"] and r["same_hook_calls"] else "  (counts differ!)"))
    out.append("")
    out.append("py hook: a Python HOOK_CODE counting every instruction, on each engine; counters: "
               "native instruction, block, load and store counters over all code (goal <= 1.3x); "
               "hook elsewhere: a HOOK_CODE on code that never runs (goal 1.0x)")
    return "\n".join(out)
