"""Core benchmarks: the same AArch64 code and start state run on tcgpy and on
Unicorn in one process, so the ratios hold on a noisy machine.

* execution throughput of chained code: a tight arithmetic loop, a memory
  loop (strided and pseudo-random accesses), an indirect-branch loop through
  a function-pointer table, and a call/return loop — guest MIPS;
* translation throughput: many distinct straight-line blocks, each run once —
  blocks/s and guest instructions/s translated, with tcgpy's per-stage split.

Workloads are assembled with keystone (``pip install 'tcgpy[test]'``).
"""
from __future__ import annotations

import random
import struct
import time
from dataclasses import dataclass, field

import tcgpy

CODE = 0x10000
DATA = 0x100000
DATA_SIZE = 0x100000
STACK = 0x400000


@dataclass
class Workload:
    name: str
    source: str
    regs: dict[str, int] = field(default_factory=dict)


def exec_workloads(scale: float = 1.0) -> list[Workload]:
    n = max(int(2_000_000 * scale), 10)
    return [
        Workload("arith", """
            mov x0, #1
        loop:
            add x2, x2, x0
            eor x3, x3, x2, lsl #3
            orr x4, x4, x3, lsr #7
            madd x5, x2, x3, x5
            and x6, x5, #0xff00ff00ff00ff
            sub x7, x7, x6
            subs x1, x1, #1
            b.ne loop
        end:
            nop
        """, {"x1": n}),
        Workload("memory", f"""
            mov x9, #{DATA:#x}
            movz x10, #0x1234
        loop:
            and x11, x1, #0xfff8
            ldr x2, [x9, x11]
            add x2, x2, x1
            str x2, [x9, x11]
            madd x10, x10, x12, x13
            lsr x14, x10, #40
            and x14, x14, #0xfff8
            ldr w3, [x9, x14]
            add w3, w3, #1
            str w3, [x9, x14]
            subs x1, x1, #1
            b.ne loop
        end:
            nop
        """, {"x1": n // 2, "x12": 6364136223846793005, "x13": 1442695040888963407}),
        Workload("indirect", """
            adr x9, table
            mov x0, #0
        loop:
            and x10, x1, #3
            ldr x11, [x9, x10, lsl #3]
            blr x11
            subs x1, x1, #1
            b.ne loop
            b end
        f0: add x0, x0, #1
            ret
        f1: add x0, x0, #2
            ret
        f2: eor x0, x0, #0xff
            ret
        f3: sub x0, x0, #3
            ret
        table:
            .quad 0, 0, 0, 0
        end:
            nop
        """, {"x1": n // 4}),
        Workload("callret", """
            mov x0, #0
        loop:
            bl leaf
            bl leaf2
            subs x1, x1, #1
            b.ne loop
            b end
        leaf:
            add x0, x0, #1
            ret
        leaf2:
            stp x29, x30, [sp, #-16]!
            bl leaf
            ldp x29, x30, [sp], #16
            ret
        end:
            nop
        """, {"x1": n // 4, "sp": STACK - 0x100}),
    ]


def install_hint(extra: str) -> str:
    """How to install an optional dependency group, from an index or from a
    checkout (an editable install)."""
    return f"pip install 'tcgpy[{extra}]' (from a checkout: pip install -e '.[{extra}]')"


def _keystone():
    try:
        import keystone
    except ImportError:
        raise SystemExit("tcgpy bench assembles its workloads with keystone: "
                         f"{install_hint('bench')}") from None
    return keystone.Ks(keystone.KS_ARCH_ARM64, keystone.KS_MODE_LITTLE_ENDIAN)


def assemble(source: str, addr: int = CODE) -> tuple[bytes, dict[str, int]]:
    """Assemble; returns code and the addresses of the labels we need."""
    ks = _keystone()
    lines = [ln.strip() for ln in source.strip().splitlines() if ln.strip()]
    code = bytes(ks.asm("\n".join(lines), addr)[0])
    # Every statement is one 4-byte instruction except .quad data.
    labels = {}
    pc = addr
    for ln in lines:
        if ":" in ln:
            name, ln = (x.strip() for x in ln.split(":", 1))
            labels[name] = pc
        if ln.startswith(".quad"):
            pc += 8 * len(ln[5:].split(","))
        elif ln:
            pc += 4
    return code, labels


def _prepare(code: bytes, labels: dict[str, int]) -> bytes:
    if "table" in labels:
        off = labels["table"] - CODE
        ptrs = struct.pack("<4Q", *(labels[f"f{i}"] for i in range(4)))
        code = code[:off] + ptrs + code[off + 32:]
    return code


def run_tcgpy(code: bytes, regs: dict[str, int], end: int,
              arch: str = "aarch64") -> tuple[float, int, tcgpy.Emulator]:
    emu = tcgpy.Emulator(arch)
    emu.mem_map(CODE, 0x10000, "rwx")
    emu.mem_map(DATA, DATA_SIZE, "rw")
    emu.mem_map(STACK - 0x10000, 0x10000, "rw")
    emu.mem_write(CODE, code)
    for k, v in regs.items():
        emu.reg_write(k, v)
    t0 = time.perf_counter()
    emu.run(CODE, until=end)
    dt = time.perf_counter() - t0
    return dt, emu.last_run_insns, emu


def _unicorn(arch: str):
    """A Unicorn CPU of ``arch`` as the difftest sets it up, and its register ids by name."""
    import importlib
    from unicorn import Uc
    from .targets import lookup
    t = lookup(arch)
    defs = t.diff_def
    consts = importlib.import_module(defs.unicorn_consts[0])
    prefix = defs.unicorn_consts[1]
    uc = Uc(*t.unicorn)
    for name, value in defs.unicorn_init.items():
        uc.reg_write(getattr(consts, prefix + name.upper()), value)
    return uc, lambda name: getattr(consts, prefix + name.upper())


def run_unicorn(code: bytes, regs: dict[str, int], end: int, arch: str = "aarch64") -> float:
    uc, reg_id = _unicorn(arch)
    uc.mem_map(CODE, 0x10000)
    uc.mem_map(DATA, DATA_SIZE)
    uc.mem_map(STACK - 0x10000, 0x10000)
    uc.mem_write(CODE, code)
    for k, v in regs.items():
        uc.reg_write(reg_id(k), v)
    t0 = time.perf_counter()
    uc.emu_start(CODE, end)
    return time.perf_counter() - t0


STAGES = ("decode", "ir_build", "passes", "llvm_lower", "llvm_compile")


def translation_seconds(stats) -> float:
    return sum(getattr(stats, f"time_{k}") for k in STAGES)


def bench_workloads(scale: float, code_base: int = CODE, data: int = DATA,
                    stack: int = STACK) -> list[tuple[str, bytes, int, dict[str, int]]]:
    """AArch64's loops as (name, code, end address, start registers): this
    module is AArch64's ``bench`` module in the target registry."""
    out = []
    for w in exec_workloads(scale):
        code, labels = assemble(w.source, code_base)
        out.append((w.name, _prepare(code, labels), labels["end"], w.regs))
    return out


def bench_blocks(n_blocks: int, code_base: int = CODE, seed: int = 1) -> tuple[bytes, int, int]:
    return translation_code(n_blocks, seed)


def bench_exec(scale: float = 1.0, repeat: int = 3, arch: str = "aarch64") -> list[dict]:
    """Each workload ``repeat`` times on each engine, alternating; the best
    time of each is kept (the usual defence against a noisy machine)."""
    from .targets import lookup
    rows = []
    for name, code, end, regs in lookup(arch).bench_module.bench_workloads(scale, CODE, DATA, STACK):
        t_tcg = t_uc = float("inf")
        for _ in range(repeat):
            t, insns, emu = run_tcgpy(code, regs, end, arch)
            if t < t_tcg:
                t_tcg, warmup = t, translation_seconds(emu.stats)
            t_uc = min(t_uc, run_unicorn(code, regs, end, arch))
        rows.append({
            "workload": name, "guest_insns": insns,
            "tcgpy_mips": insns / t_tcg / 1e6, "unicorn_mips": insns / t_uc / 1e6,
            "ratio": t_tcg / t_uc,            # time ratio: >1 means tcgpy is slower
            # translating and compiling (both tiers) inside tcgpy's timed run:
            # the measured time includes it, as Unicorn's includes its own
            "tcgpy_translate_s": warmup,
            "tcgpy_blocks_per_s": emu.stats.dispatcher_returns / t_tcg,
            "dispatcher_returns": emu.stats.dispatcher_returns,
        })
    return rows


# A pool of straight-line ALU instructions for the translation benchmark
# (register operands vary so that no two blocks are the same).
ALU_TEMPLATES = (
    "add x{a}, x{b}, x{c}", "sub x{a}, x{b}, #{i}", "eor x{a}, x{b}, x{c}, lsl #{s}",
    "orr w{a}, w{b}, w{c}", "and x{a}, x{b}, #0xff", "madd x{a}, x{b}, x{c}, x{d}",
    "lsr x{a}, x{b}, #{s}", "adds x{a}, x{b}, x{c}", "csel x{a}, x{b}, x{c}, ne",
    "movz x{a}, #{i}", "ubfx x{a}, x{b}, #{s}, #8", "cmp x{a}, x{b}",
)


def translation_code(n_blocks: int, seed: int = 1) -> tuple[bytes, int, int]:
    """n_blocks distinct blocks of 4-8 instructions, each ending in a branch to the next."""
    rng = random.Random(seed)
    lines = []
    n_insns = 0
    for k in range(n_blocks):
        for _ in range(rng.randint(3, 7)):
            t = rng.choice(ALU_TEMPLATES)
            lines.append(t.format(a=rng.randrange(29), b=rng.randrange(29), c=rng.randrange(29),
                                  d=rng.randrange(29), i=rng.randrange(4096), s=rng.randrange(1, 56)))
            n_insns += 1
        lines.append(f"b l{k}")
        lines.append(f"l{k}:")
        n_insns += 1
    lines.append("nop")
    code = bytes(_keystone().asm("\n".join(lines), CODE)[0])
    return code, CODE + len(code) - 4, n_insns


def bench_translate(n_blocks: int = 2000, arch: str = "aarch64") -> dict:
    from .targets import lookup
    code, end, n_insns = lookup(arch).bench_module.bench_blocks(n_blocks, CODE)
    emu = tcgpy.Emulator(arch)
    emu.mem_map(CODE, (len(code) + 0xFFFF) & ~0xFFFF, "rwx")
    emu.mem_write(CODE, code)
    t0 = time.perf_counter()
    emu.run(CODE, until=end)
    t_tcg = time.perf_counter() - t0
    uc, _ = _unicorn(arch)
    uc.mem_map(CODE, (len(code) + 0xFFFF) & ~0xFFFF)
    uc.mem_write(CODE, code)
    t0 = time.perf_counter()
    uc.emu_start(CODE, end)
    t_uc = time.perf_counter() - t0
    s = emu.stats
    return {
        "blocks": n_blocks, "guest_insns": n_insns,
        "tcgpy_blocks_per_s": s.blocks_translated / t_tcg,
        "tcgpy_insns_per_s": s.insns_translated / t_tcg,
        "unicorn_blocks_per_s": n_blocks / t_uc,
        "ratio": t_tcg / t_uc,            # time ratio: >1 means tcgpy is slower
        "stages_s": {k: getattr(s, f"time_{k}") for k in STAGES},
        "wall_s": t_tcg,
    }


# The compute kernels (tests/guest/fs_bench.c, bench_fp.c) at a medium size;
# bench/linux_bench.py runs them at full size.
KERNELS = [["fs_bench", "hash", "20000000"], ["fs_bench", "sort", "6"], ["fs_bench", "matmul", "200"],
           ["fs_bench", "string", "2000"], ["bench_fp", "10"]]


def default_programs(arch: str = "aarch64") -> list[list[str]]:
    """Guest programs of a source checkout: for ``arch``, the hello worlds,
    the compute kernels and the mappings benchmark; for every other target
    with a frontend, its build of the compute kernels (each target's
    Target.guest_bin), so that one run compares every target with its
    qemu-user."""
    import os
    from .targets import TARGETS, lookup
    top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    mine = [["asm_hello"], ["libc_hello"], *KERNELS,
            # 100,000 one-page mmaps, a third mprotected, all unmapped: the
            # syscall and address-space cost (issue 19)
            ["libc_maps", "many", "100000"]]
    plan = [(lookup(arch), mine)] + [(t, KERNELS) for t in TARGETS if t.frontend and t.name != lookup(arch).name]
    out = []
    for target, progs in plan:
        for argv in progs:
            path = os.path.normpath(os.path.join(top, target.guest_bin, argv[0]))
            if os.access(path, os.X_OK):
                out.append([path] + argv[1:])
    return out


def program_target(path: str):
    """The target (tcgpy.targets) of the ELF program at ``path``, or None
    when it is no ELF file of a target tcgpy knows."""
    from .targets import from_elf
    try:
        with open(path, "rb") as f:
            ident = f.read(20)
    except OSError:
        return None
    if len(ident) < 20 or ident[:4] != b"\x7fELF":
        return None
    return from_elf(int.from_bytes(ident[18:20], "little" if ident[5] == 1 else "big"))


def bench_programs(programs: list[list[str]], qemu: str | None, arch: str = "aarch64",
                   runs: int = 1) -> list[dict]:
    """Wall time of whole guest programs (argv lists) under ``tcgpy run`` and
    under the qemu-user of each program's target (``qemu``, where given, for
    programs of ``arch``): the best of ``runs``, the two taking turns so that
    a busy spell of the machine falls on both."""
    import os
    import shutil
    import subprocess
    import sys
    import tempfile
    from .targets import lookup

    def timed(cmd):
        """(wall s, user + system CPU s, stdout, exit status): CPU time
        holds on a machine other work slows down, wall time does not."""
        with tempfile.TemporaryFile() as out:
            t0 = time.perf_counter()
            p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL)
            _, status, usage = os.wait4(p.pid, 0)
            wall = time.perf_counter() - t0
            out.seek(0)
            return wall, usage.ru_utime + usage.ru_stime, out.read(), os.waitstatus_to_exitcode(status)

    def best(rows):
        """The fastest wall time and the least CPU time of several runs, with the last run's output."""
        return min(r[0] for r in rows), min(r[1] for r in rows), rows[-1][2], rows[-1][3]

    out_rows = []
    for argv in programs:
        target = program_target(argv[0]) or lookup(arch)
        peer = qemu if qemu and target.name == lookup(arch).name else shutil.which(target.qemu_user)
        row = {"program": " ".join([argv[0].rsplit("/", 1)[-1]] + argv[1:]), "target": target.name,
               "peer": target.qemu_user, "runs": runs}
        mine, theirs = [], []
        for _ in range(runs):
            mine.append(timed([sys.executable, "-m", "tcgpy", "run", *argv]))
            if peer:
                theirs.append(timed([peer, *argv]))
        row["tcgpy_s"], row["tcgpy_cpu_s"], out, row["tcgpy_status"] = best(mine)
        if peer:
            row["qemu_s"], row["qemu_cpu_s"], qout, qstatus = best(theirs)
            row["same_output"] = qout == out and qstatus == row["tcgpy_status"]
            row["ratio"] = row["tcgpy_s"] / row["qemu_s"]
            row["cpu_ratio"] = row["tcgpy_cpu_s"] / max(row["qemu_cpu_s"], 1e-3)
        out_rows.append(row)
    return out_rows


def run_all(scale: float = 1.0, blocks: int = 2000, programs=(), qemu=None, repeat: int = 3,
            arch: str = "aarch64", runs: int = 1) -> dict:
    return {"arch": arch, "exec": bench_exec(scale, repeat, arch), "translate": bench_translate(blocks, arch),
            "programs": bench_programs(list(programs), qemu, arch, runs)}


RATIO_DIRECTION = "ratios = tcgpy time / peer time (Unicorn, qemu-user): >1 means tcgpy is slower (lower is better)"


def format_report(res: dict) -> str:
    from .targets import lookup
    out = [RATIO_DIRECTION, "",
           f"{'workload':<10} {'insns':>12} {'tcgpy MIPS':>11} {'unicorn MIPS':>13} {'ratio':>7} "
           f"{'returns':>8} {'tcgpy JIT time':>15}"]
    for r in res["exec"]:
        share = r["tcgpy_translate_s"] * r["tcgpy_mips"] * 1e6 / r["guest_insns"]
        out.append(f"{r['workload']:<10} {r['guest_insns']:>12} {r['tcgpy_mips']:>11.1f} "
                   f"{r['unicorn_mips']:>13.1f} {r['ratio']:>6.2f}x {r['dispatcher_returns']:>8} "
                   f"{r['tcgpy_translate_s'] * 1e3:>6.0f} ms ({share:>4.0%})")
    tr = res["translate"]
    out += ["", f"translation: {tr['blocks']} blocks, {tr['guest_insns']} insns",
            f"  tcgpy   {tr['tcgpy_blocks_per_s']:>9.0f} blocks/s {tr['tcgpy_insns_per_s']:>9.0f} insns/s",
            f"  unicorn {tr['unicorn_blocks_per_s']:>9.0f} blocks/s   ratio {tr['ratio']:.1f}x"]
    total = sum(tr["stages_s"].values()) or 1.0
    out.append("  stages: " + ", ".join(f"{k} {v * 1e3:.0f} ms ({v / total:.0%})"
                                        for k, v in tr["stages_s"].items()))
    if res["programs"]:
        out.append("")
        for p in res["programs"]:
            peer = p.get("peer") or lookup(res.get("arch", "aarch64")).qemu_user
            if "qemu_s" in p:
                out.append(f"{p['program']}: tcgpy {p['tcgpy_s']:.3f} s, {peer} {p['qemu_s']:.3f} s, "
                           f"ratio {p['ratio']:.2f}; CPU tcgpy {p['tcgpy_cpu_s']:.3f} s, {peer} "
                           f"{p['qemu_cpu_s']:.3f} s, ratio {p['cpu_ratio']:.2f} (same output: {p['same_output']})")
            else:
                out.append(f"{p['program']}: tcgpy {p['tcgpy_s']:.3f} s ({peer} not installed: no ratio)")
    return "\n".join(out)


def plot(res: dict, path: str) -> None:
    """Bar chart of the report's ratios, tcgpy time / peer time (log scale:
    they span from translation, where Unicorn's C translator is far ahead,
    to memory-heavy loops, where tcgpy is)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    bars = [(r["workload"], r["ratio"], "vs Unicorn") for r in res["exec"]]
    bars.append(("translate", res["translate"]["ratio"], "vs Unicorn"))
    for p in res.get("programs", []):
        if "ratio" in p:
            label = p["program"]
            if p.get("target", res.get("arch")) != res.get("arch"):
                label += f" ({p['target']})"
            bars.append((label, p["ratio"], f"vs {p.get('peer', 'qemu-aarch64')}"))
    palette = iter(["tab:orange", "tab:green", "tab:red", "tab:purple"])
    colors = {"vs Unicorn": "tab:blue"}
    for _, _, peer in bars:
        colors.setdefault(peer, next(palette, "tab:gray"))
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(bars)), 4))
    for i, (name, ratio, peer) in enumerate(bars):
        ax.bar(i, ratio, color=colors[peer], label=peer)
        ax.annotate(f"{ratio:.2g}x", (i, ratio), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(bars)), [b[0] for b in bars], rotation=30, ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_ylabel("tcgpy time / peer time (lower is better)")
    handles, labels = ax.get_legend_handles_labels()
    uniq = dict(zip(labels, handles))
    ax.legend(uniq.values(), uniq.keys(), fontsize=8)
    ax.set_title("tcgpy relative to Unicorn and qemu-user (same run)")
    fig.tight_layout()
    fig.savefig(path)


def main(argv=None) -> int:
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0, help="iteration-count multiplier")
    ap.add_argument("--blocks", type=int, default=2000, help="blocks in the translation benchmark")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    res = run_all(args.scale, args.blocks)
    if args.json:
        import json
        print(json.dumps(res, indent=2))
    else:
        print(format_report(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
