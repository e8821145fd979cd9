"""``tcgpy difftest x86_64``: the campaign.  One KVM engine (the host CPU)
and one Unicorn x86-64 CPU run each case from the same random registers and
flags; every general register and the arithmetic flags the architecture
defines are compared afterwards, and a difference in an undefined flag is
counted, not reported."""
from __future__ import annotations

import json
import random
import sys

from .forms import ARITH, CODE, GPRS, code_of, compared_flags, disassemble, flag_names, make_case
from .known import KNOWN


class Runners:
    """One KVM engine and one Unicorn CPU, reused for every case."""

    def __init__(self):
        import unicorn
        from unicorn import x86_const

        from ...emulator import Emulator
        self.kvm = Emulator("x86_64", accel="kvm")
        self.kvm.mem_map(CODE, 0x1000, "rx")
        self.uc = unicorn.Uc(unicorn.UC_ARCH_X86, unicorn.UC_MODE_64)
        self.uc.mem_map(CODE, 0x1000, unicorn.UC_PROT_ALL)
        self.ucregs = {n: getattr(x86_const, f"UC_X86_REG_{n.upper()}") for n in GPRS}
        self.ucflags = x86_const.UC_X86_REG_EFLAGS

    def run_kvm(self, case: dict, code: bytes) -> dict:
        emu = self.kvm
        emu.mem_write(CODE, code + b"\x90")
        for n, v in case["regs"].items():
            emu.reg_write(n, v)
        emu.reg_write("rflags", case["flags"])
        emu.run(CODE, until=CODE + len(code))
        out = {n: emu.reg_read(n) for n in case["regs"]}
        out["flags"] = emu.reg_read("rflags") & ARITH
        return out

    def run_unicorn(self, case: dict, code: bytes) -> dict:
        uc = self.uc
        uc.mem_write(CODE, code + b"\x90")
        for n, v in case["regs"].items():
            uc.reg_write(self.ucregs[n], v)
        uc.reg_write(self.ucflags, case["flags"] | 0x2)
        uc.emu_start(CODE, CODE + len(code))
        out = {n: uc.reg_read(self.ucregs[n]) for n in case["regs"]}
        out["flags"] = uc.reg_read(self.ucflags) & ARITH
        return out


def compare(case: dict, kvm: dict, uni: dict) -> tuple[dict, int]:
    """(fields that differ where the architecture defines them, undefined flags that differ)."""
    diff = {n: (kvm[n], uni[n]) for n in case["regs"] if kvm[n] != uni[n]}
    mask = compared_flags(case)
    if (kvm["flags"] ^ uni["flags"]) & mask:
        diff["flags"] = (kvm["flags"] & mask, uni["flags"] & mask)
    return diff, (kvm["flags"] ^ uni["flags"]) & ARITH & ~mask


def run_campaign(count: int, seed: int, length: int, progress=None) -> dict:
    rng = random.Random(seed)
    runners = Runners()
    out = {"arch": "x86_64", "seed": seed, "count": count, "length": length, "mismatches": [],
           "known": {}, "undefined_flag_differences": 0, "undefined_flags": {}}
    for index in range(count):
        case = make_case(rng, length)
        code = code_of(case)
        kvm, uni = runners.run_kvm(case, code), runners.run_unicorn(case, code)
        diff, undefined = compare(case, kvm, uni)
        out["undefined_flag_differences"] += bool(undefined)
        for name in filter(None, flag_names(undefined).split(",")):
            out["undefined_flags"][name] = out["undefined_flags"].get(name, 0) + 1
        if diff:
            known = next((k for k in KNOWN if k.matches(disassemble(case), diff)), None)
            if known is not None:
                out["known"][known.name] = out["known"].get(known.name, 0) + 1
            else:
                out["mismatches"].append({"index": index, "code": code.hex(), "insns": disassemble(case),
                                          "regs": case["regs"], "flags": case["flags"],
                                          "differ": {k: [f"{a:#x}", f"{b:#x}"] for k, (a, b) in diff.items()}})
        if progress is not None and (index + 1) % 100 == 0:
            progress(index + 1)
    return out


def format_report(res: dict) -> str:
    lines = []
    for m in res["mismatches"][:20]:
        lines.append(f"MISMATCH case {m['index']} ({m['code']})")
        lines += ["    " + t for t in m["insns"]]
        for field, (kvm, uni) in m["differ"].items():
            what = f" ({flag_names(int(kvm, 16) ^ int(uni, 16))})" if field == "flags" else ""
            lines.append(f"    {field}: KVM (the CPU) {kvm}, Unicorn {uni}{what}")
    for name, n in sorted(res["known"].items()):
        lines.append(f"known difference {name}: {n} cases")
    lines.append(f"{res['count']} cases ({res['length']} instructions each, seed {res['seed']}): "
                 f"{len(res['mismatches'])} mismatches, {sum(res['known'].values())} known differences; "
                 f"{res['undefined_flag_differences']} cases where a flag the SDM leaves undefined differs "
                 f"(not compared: " + ", ".join(f"{k} {v}" for k, v in sorted(res["undefined_flags"].items()))
                 + ")")
    return "\n".join(lines)


def main(args) -> int:
    """``tcgpy difftest x86_64`` (--count, --seed, --length, --json, --quiet)."""
    from ...accel import kvm_status
    problem = kvm_status()
    if problem:
        print(f"tcgpy difftest x86_64: needs KVM, which cannot run here: {problem}", file=sys.stderr)
        return 2
    unsupported = [o for o, on in (("--replay", args.replay), ("--resume", args.resume), ("--out", args.out),
                                   ("--cluster", args.cluster), ("--classes", args.classes),
                                   ("--exclude", args.exclude), ("--list-classes", args.list_classes)) if on]
    if unsupported:
        print(f"tcgpy difftest x86_64: {', '.join(unsupported)} not supported for x86_64", file=sys.stderr)
        return 2
    if args.count < 0 or args.length < 1:
        print("tcgpy difftest: --count must be >= 0 and --length >= 1", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    quiet = args.quiet or args.json
    res = run_campaign(args.count, seed, args.length,
                       None if quiet else lambda n: print(f"\r{n}/{args.count}", end="", file=sys.stderr))
    if not quiet:
        print(file=sys.stderr)
    print(json.dumps(res, indent=1) if args.json else format_report(res))
    return 1 if res["mismatches"] else 0
