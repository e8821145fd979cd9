"""``tcgpy binfmt``: run foreign programs directly (``./arm64-prog``) through
binfmt_misc, as qemu-user-binfmt does (tcgpy/binfmt.py).

    tcgpy binfmt install [--target NAME...] [--persistent]
    tcgpy binfmt uninstall [--target NAME...]
    tcgpy binfmt status [--target NAME...] [--json]

install and uninstall need root (binfmt_misc is system-wide); install
mounts binfmt_misc at /proc/sys/fs/binfmt_misc when it is not mounted.
A binfmt-started run takes its options from the environment
(TCGPY_LD_PREFIX or QEMU_LD_PREFIX, TCGPY_STRACE, TCGPY_CPU,
TCGPY_CACHE_DIR...).
"""
from __future__ import annotations

import argparse
import json


def add_parser(subparsers) -> argparse.ArgumentParser:
    from ..binfmt import CONF_DIR, LAUNCHER_DIR, MOUNT
    p = subparsers.add_parser("binfmt", help="register tcgpy with binfmt_misc to run foreign programs directly",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=("install", "uninstall", "status"))
    p.add_argument("--target", action="append", metavar="NAME",
                   help="a target (default: every one tcgpy runs Linux programs of); repeatable")
    p.add_argument("--persistent", action="store_true",
                   help=f"install: also write {CONF_DIR}/tcgpy-NAME.conf for systemd-binfmt at boot")
    p.add_argument("--json", action="store_true", help="status as JSON")
    p.add_argument("--launcher-dir", default=LAUNCHER_DIR, metavar="DIR",
                   help=f"where the launchers go (default {LAUNCHER_DIR})")
    p.add_argument("--conf-dir", default=CONF_DIR, metavar="DIR", help=f"binfmt.d directory (default {CONF_DIR})")
    p.add_argument("--mount", default=MOUNT, metavar="DIR", help=f"binfmt_misc's mount point (default {MOUNT})")
    return p


def main(args) -> int:
    from .. import binfmt
    from ..cli import _error
    try:
        selected = binfmt.select(args.target)
        where = {"mount": args.mount, "launcher_dir": args.launcher_dir, "conf_dir": args.conf_dir}
        if args.action == "status":
            rows = binfmt.status(selected, **where)
            if args.json:
                print(json.dumps(rows, indent=2))
                return 0
            for r in rows:
                reg = r["registered"]
                if not r["mounted"]:
                    state = f"binfmt_misc is not mounted at {args.mount}"
                elif reg is None:
                    state = "not registered"
                else:
                    state = (f"registered, {'enabled' if reg['enabled'] else 'disabled'}, "
                             f"interpreter {reg.get('interpreter')}, flags {reg.get('flags') or '-'}")
                print(f"{r['target']}: {state}")
                if r["launcher"] and reg is None:
                    print(f"  launcher {r['launcher']} is left from an install")
                if r["conf"]:
                    print(f"  persistent: {r['conf']}")
                if r["others"]:
                    print(f"  also claimed by: {', '.join(r['others'])} (the kernel uses the most recent registration)")
            return 0
        if args.action == "install":
            done = binfmt.install(selected, persistent=args.persistent, **where)
        else:
            done = binfmt.uninstall(selected, **where)
    except binfmt.BinfmtError as e:
        return _error(f"binfmt: {e}")
    for line in done:
        print(line)
    if args.action == "uninstall" and not done:
        print("nothing of tcgpy's was installed")
    return 0
