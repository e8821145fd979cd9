"""``tcgpy cache``: the persistent translation cache (tcgpy/pcache.py).

    tcgpy cache stats [--json]     entries, bytes, hit rate of the last runs
    tcgpy cache clear              delete every entry
    tcgpy cache wait [--timeout S] wait until no process is writing to it
    tcgpy cache dir                print where it is

The directory is ``--cache-dir``, else ``$TCGPY_CACHE_DIR``, else
``$XDG_CACHE_HOME/tcgpy`` or ``~/.cache/tcgpy``.
"""
from __future__ import annotations

import argparse
import json


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("cache", help="inspect or clear the persistent translation cache",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=("stats", "clear", "wait", "dir"))
    p.add_argument("--cache-dir", metavar="DIR", help="the cache directory (default: see above)")
    p.add_argument("--json", action="store_true", help="stats as JSON")
    p.add_argument("--timeout", type=float, default=None, help="wait: give up after S seconds (exit 1)")
    return p


def main(args) -> int:
    from .. import pcache
    root = args.cache_dir or pcache.default_dir()
    if args.action == "dir":
        print(root)
        return 0
    if args.action == "wait":
        return 0 if pcache.wait_for_writers(root, args.timeout) else 1
    if args.action == "clear":
        lock = pcache.WriterLock(root)
        held = lock.acquire(wait=True)
        try:
            n = pcache.clear(root)
        finally:
            if held:
                lock.release()
        print(f"tcgpy cache: deleted {n} entries from {root}")
        return 0
    s = pcache.stats(root)
    if args.json:
        print(json.dumps(s, indent=2))
        return 0
    rate = "n/a" if s["hit_rate"] is None else f"{100 * s['hit_rate']:.1f}%"
    print(f"directory:      {s['dir']}\n"
          f"entries:        {s['entries']} files (guest code pages, hot loops, runtime code) in {s['namespaces']} namespace(s)\n"
          f"size:           {s['bytes'] / 1048576:.1f} MiB (cap {pcache.cap_from_env() / 1048576:.0f} MiB)\n"
          f"last {s['runs']} runs: {s['hits']} pages found, {s['misses']} missed (hit rate {rate}), "
          f"{s['bytes_loaded'] / 1048576:.1f} MiB loaded")
    return 0
