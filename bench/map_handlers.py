"""The address-space handlers alone, without guest code or syscall dispatch:
the Linux layer's map/protect/unmap over the softmmu, in libc_maps' order
(N one-page mappings made top-down with alternating permissions, a third
protected read-only, all unmapped), CPU time per call, best of R rounds.

    python bench/map_handlers.py 100000 3

For an instruction count that load does not move, run it under callgrind
at two sizes and divide the difference by the difference of the sizes
(start-up cancels out):

    valgrind --tool=callgrind python bench/map_handlers.py 5000 1
    valgrind --tool=callgrind python bench/map_handlers.py 15000 1
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tcgpy.emulator import Emulator  # noqa: E402
from tcgpy.gcpolicy import tune_for_run  # noqa: E402
from tcgpy.linux.memory import PAGE, AddressSpace  # noqa: E402


def one_round(n: int) -> dict[str, float]:
    space = AddressSpace(Emulator("aarch64"))
    space.map(0x400000, 0x10000, "rx", "text")
    t0 = time.process_time()
    pages = []
    for i in range(n):
        addr = space.find_free(PAGE)
        space.map(addr, PAGE, "rw" if i & 1 else "rwx", "mmap", free=True)
        pages.append(addr)
    t1 = time.process_time()
    protected = pages[::3]
    for addr in protected:
        space.protect(addr, PAGE, "r")
    t2 = time.process_time()
    for addr in pages:
        space.unmap(addr, PAGE)
    t3 = time.process_time()
    return {"mmap": (t1 - t0) / n, "mprotect": (t2 - t1) / len(protected), "munmap": (t3 - t2) / n}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    tune_for_run()          # the collector as tcgpy run sets it
    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, t in one_round(n).items():
            best[name] = min(best.get(name, t), t)
    print(f"{n} mappings: " + ", ".join(f"{name} {t * 1e6:.2f} us" for name, t in best.items()))


if __name__ == "__main__":
    main()
