"""The ``tcgpy`` command line: ``tcgpy run [options] PROG [ARGS...]`` runs a
foreign Linux program the way ``qemu-aarch64`` does (same option spellings),
and further subcommands plug in through :data:`SUBCOMMAND_MODULES`."""
from __future__ import annotations

import argparse
import fcntl
import importlib
import json
import os
import sys

# Modules that provide add_parser(subparsers) and main(args) -> int.
SUBCOMMAND_MODULES = ("tcgpy.commands.difftest", "tcgpy.commands.bench", "tcgpy.commands.cache")
LOG_FD_MIN = 200

RUN_EPILOG = """\
Exit status is the guest's.  When the guest dies of a signal, tcgpy dies of
the same signal (a shell sees 128+N); for signals whose default action dumps
core it first prints one line, as qemu-user does.

-d items: {items}
"""


def _split_list(values: list[str] | None) -> list[str]:
    out = []
    for v in values or ():
        out += [x for x in v.split(",") if x]
    return out


def add_run_parser(subparsers) -> argparse.ArgumentParser:
    items = "\n  ".join(f"{k:8} {v}" for k, v in _log_items().items())
    p = subparsers.add_parser(
        "run", help="run a Linux program of another architecture (like qemu-aarch64)",
        description="Run a static (or, with -L, dynamic) Linux ELF program of a foreign "
                    "architecture, translating it with tcgpy's JIT.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=RUN_EPILOG.format(items="\n  " + items))
    p.add_argument("-strace", action="store_true",
                   help="log every system call with decoded arguments and result (to stderr or -D)")
    p.add_argument("-d", metavar="ITEMS", action="append",
                   help="comma-separated debug log items (see below; '-d help' lists them)")
    p.add_argument("-D", metavar="FILE", help="write -d and -strace logs to FILE instead of stderr")
    p.add_argument("-E", metavar="VAR=VALUE", action="append",
                   help="set a guest environment variable (repeatable, or comma-separated)")
    p.add_argument("-U", metavar="VAR", action="append",
                   help="remove a variable from the guest environment (repeatable, or comma-separated)")
    p.add_argument("-0", dest="argv0", metavar="ARGV0", help="use ARGV0 as the guest's argv[0]")
    p.add_argument("-L", metavar="PATH", dest="sysroot",
                   help="sysroot for the ELF interpreter and absolute guest paths "
                        "(e.g. /usr/aarch64-linux-gnu)")
    p.add_argument("-g", metavar="PORT", dest="gdb_port", type=int,
                   help="wait for gdb on TCP port PORT before the first instruction "
                        "(gdb-multiarch: target remote :PORT; 0: a free port, said on stderr; "
                        "also: TCGPY_GDB=PORT)")
    p.add_argument("--stats", action="store_true", help="print JIT statistics to stderr at exit")
    p.add_argument("--cache-dir", metavar="DIR",
                   help="persistent translation cache directory (default: $TCGPY_CACHE_DIR, "
                        "else $XDG_CACHE_HOME/tcgpy or ~/.cache/tcgpy)")
    p.add_argument("--no-cache", action="store_true",
                   help="do not use the persistent translation cache (also: TCGPY_CACHE=0)")
    # Used when a guest execve()s another guest program: the environment and
    # the exec path travel here because the host environment must stay the
    # one that can start Python.
    p.add_argument("--exec-environ-fd", type=int, help=argparse.SUPPRESS)
    p.add_argument("--execfn", help=argparse.SUPPRESS)
    p.add_argument("prog", metavar="PROG", help="the guest program")
    p.add_argument("args", metavar="ARGS", nargs=argparse.REMAINDER, help="its arguments")
    p.set_defaults(_main=run_main)
    return p


def _log_items() -> dict[str, str]:
    from .log import ITEMS
    return {**ITEMS, "strace": "same as -strace",
            "cache": "a line for each persistent-cache file that could not be used or written"}


# -d items that do not look at translation: the persistent cache stays on
# with them (the others log or change what is translated, so they turn it off).
CACHE_NEUTRAL_ITEMS = frozenset({"strace", "cache"})


def _gdb_port(args) -> int | None:
    if args.gdb_port is not None:
        return args.gdb_port
    env = os.environ.get("TCGPY_GDB", "")
    return int(env) if env.isdigit() else None


def _cache_dir(args, items: set[str]) -> str | None:
    """Where the persistent translation cache is, or None when it is off
    (also under gdb: a debugging session does not need its startup speed,
    and its exact instruction counts are another translation)."""
    from .pcache import default_dir, enabled_by_env
    if (args.no_cache or not enabled_by_env() or items - CACHE_NEUTRAL_ITEMS
            or _gdb_port(args) is not None):
        return None
    return args.cache_dir or default_dir()


def _error(msg: str) -> int:
    sys.stderr.write(f"tcgpy: {msg}\n")
    sys.stderr.flush()
    return 1


def _guest_environ(args) -> list[bytes]:
    if args.exec_environ_fd is not None:
        fd = args.exec_environ_fd
        os.lseek(fd, 0, os.SEEK_SET)
        with os.fdopen(fd, "rb") as f:
            return [os.fsencode(e) for e in json.loads(f.read())]
    env = dict(os.environb)
    for name in _split_list(args.U):
        env.pop(os.fsencode(name), None)
    for item in _split_list(args.E):
        k, _, v = item.partition("=")
        env[os.fsencode(k)] = os.fsencode(v)
    return [k + b"=" + v for k, v in env.items()]


def _exec_argv(args) -> list[str]:
    out = []
    if args.strace:
        out.append("-strace")
    for d in args.d or ():
        out += ["-d", d]
    if args.D:
        out += ["-D", os.path.abspath(args.D)]
    if args.sysroot:
        out += ["-L", args.sysroot]
    if args.stats:
        out.append("--stats")
    # A guest's environment is its own: the cache choice travels as flags.
    if args.no_cache:
        out.append("--no-cache")
    elif args.cache_dir:
        out += ["--cache-dir", os.path.abspath(args.cache_dir)]
    return out


def run_main(args, emulator_factory=None, exec_prefix: list[str] | None = None) -> int:
    """``tcgpy run``.  ``emulator_factory(arch_name)`` and ``exec_prefix`` (the
    host command a guest execve of a guest program re-runs) let tests put the
    same Linux layer on another CPU."""
    from .linux.loader import LoadError, read_elf
    from .log import Logger

    items = set(_split_list(args.d))
    if "help" in items:
        for k, v in _log_items().items():
            print(f"{k:8} {v}")
        return 0
    unknown = items - set(_log_items())
    if unknown:
        return _error(f"unknown -d item(s): {', '.join(sorted(unknown))} (try -d help)")
    try:
        info = read_elf(args.prog)
    except LoadError as e:
        return _error(str(e))

    log = sys.stderr
    if args.D:
        try:
            # A guest execve re-runs tcgpy with the same -D: keep the parent's lines.
            fd = os.open(args.D, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC
                         | (os.O_APPEND if args.execfn is not None else os.O_TRUNC), 0o644)
        except OSError as e:
            return _error(f"-D {args.D}: {e.strerror}")
        # Keep the log out of the low descriptors the guest expects to get
        # from its own open() calls (guest fds are host fds).
        high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, LOG_FD_MIN)
        os.close(fd)
        log = os.fdopen(high, "w", buffering=1)

    from . import Emulator
    from .linux.hostsig import kill_self
    from .linux.process import LinuxProcess, Options, ProcessExit, ProcessKilled
    from .linux.sys_signal import host_signo

    # Linux gives user mode Top Byte Ignore on data addresses (as qemu-user does);
    # only gdb's single steps run a counted number of instructions.
    gdb_port = _gdb_port(args)
    cache_dir = _cache_dir(args, items)
    cache_warn = (lambda m: log.write(m + "\n")) if "cache" in items else None
    emu = (emulator_factory(info.arch.name) if emulator_factory
           else Emulator(info.arch.name, tbi=True, icount=gdb_port is not None, cache_dir=cache_dir,
                         cache_warn=cache_warn))
    opts = Options(strace=args.strace or "strace" in items, sysroot=args.sysroot, log=log,
                   exec_argv=_exec_argv(args))
    if exec_prefix is not None:
        opts.exec_prefix = list(exec_prefix)
    proc = LinuxProcess(emu, info.arch, opts)
    argv = [os.fsencode(args.argv0 if args.argv0 is not None else args.prog)]
    argv += [os.fsencode(a) for a in args.args]
    execfn = os.fsencode(args.execfn if args.execfn is not None else args.prog)
    try:
        proc.load(args.prog, argv, _guest_environ(args), execfn)
    except LoadError as e:
        return _error(str(e))
    if items - CACHE_NEUTRAL_ITEMS and hasattr(emu, "set_log"):
        emu.set_log(Logger(items - CACHE_NEUTRAL_ITEMS, log, emu.arch))
    if emulator_factory is not None and hasattr(emu, "set_cache_dir"):
        emu.set_cache_dir(cache_dir, warn=cache_warn)
    proc.start_signal_watcher()

    def finish():
        if cache_dir is not None and hasattr(emu, "save_cache"):
            # in a detached process unless asked to wait (tests, benchmarks)
            emu.save_cache(background=os.environ.get("TCGPY_CACHE_SYNC", "0") in ("", "0"))
        if args.stats:
            sys.stderr.write(f"tcgpy: JIT statistics\n{emu.stats.format()}\n")
        proc.flush_logs()

    try:
        if gdb_port is not None:
            from .linux.debuggee import run_with_gdb
            run_with_gdb(proc, gdb_port)
        else:
            proc.run()
    except ProcessExit as e:
        finish()
        os._exit(e.status)
    except ProcessKilled as e:
        finish()
        if e.message:
            sys.stderr.write(e.message + "\n")
            sys.stderr.flush()
        kill_self(host_signo(proc, e.signo))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tcgpy", description="tcgpy: a QEMU-TCG-style dynamic binary translator in Python")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    add_run_parser(sub)
    for name in SUBCOMMAND_MODULES:
        try:
            mod = importlib.import_module(name)
        except ImportError as e:
            if e.name is not None and name.startswith(e.name):
                continue           # that subcommand is not part of this build
            _add_broken(sub, name, e)
            continue
        except Exception as e:     # a broken subcommand must not take `tcgpy run` down with it
            _add_broken(sub, name, e)
            continue
        before = set(sub.choices)
        mod.add_parser(sub)
        for cmd in set(sub.choices) - before:
            sub.choices[cmd].set_defaults(_main=mod.main)
    return parser


def _add_broken(sub, module: str, err: Exception) -> None:
    cmd = module.rsplit(".", 1)[-1]
    p = sub.add_parser(cmd, help=f"(unavailable: {type(err).__name__})")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(_main=lambda args: _error(f"{cmd}: cannot load {module}: {type(err).__name__}: {err}"))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args._main(args) or 0
    except Exception as e:  # a tcgpy bug, not the guest's doing: one line unless asked
        if os.environ.get("TCGPY_TRACEBACK"):
            raise
        import traceback
        where = traceback.extract_tb(e.__traceback__)[-1]
        return _error(f"internal error: {type(e).__name__}: {e} ({os.path.basename(where.filename)}:"
                      f"{where.lineno}; TCGPY_TRACEBACK=1 shows the traceback)")


if __name__ == "__main__":
    sys.exit(main())
