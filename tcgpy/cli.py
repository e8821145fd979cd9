"""The ``tcgpy`` command line: ``tcgpy run [options] PROG [ARGS...]`` runs a
foreign Linux program the way qemu-user (``qemu-aarch64``, ...) does (same option spellings),
and further subcommands plug in through :data:`SUBCOMMAND_MODULES`."""
from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys

# Modules that provide add_parser(subparsers) and main(args) -> int.
SUBCOMMAND_MODULES = ("tcgpy.commands.difftest", "tcgpy.commands.bench", "tcgpy.commands.cache",
                      "tcgpy.commands.binfmt", "tcgpy.commands.fuzz")

# qemu-user's options (qemu-aarch64 -h); those tcgpy run lacks are named as
# unsupported instead of argparse's "unrecognized arguments".
# --trace keeps the last this many blocks (a ring of 8 MiB in host memory).
TRACE_BLOCKS = 1 << 20
QEMU_FLAGS = ("-h", "-help", "-g", "-L", "-s", "-cpu", "-E", "-U", "-0", "-r", "-B", "-R", "-d",
              "-dfilter", "-D", "-p", "-singlestep", "-one-insn-per-tb", "-strace", "-seed", "-trace",
              "-plugin", "-version")

# Options a binfmt_misc-started run (no command line) takes from the
# environment: dest -> variables, tcgpy's name first, then qemu's.
ENV_OPTIONS = {
    "cpu": ("TCGPY_CPU", "QEMU_CPU"),
    "stack_size": ("TCGPY_STACK_SIZE", "QEMU_STACK_SIZE"),
    "uname": ("TCGPY_UNAME", "QEMU_UNAME"),
    "seed": ("TCGPY_RAND_SEED", "QEMU_RAND_SEED"),
    "one_insn_per_tb": ("TCGPY_ONE_INSN_PER_TB", "QEMU_ONE_INSN_PER_TB", "QEMU_SINGLESTEP"),
    "d": ("TCGPY_LOG", "QEMU_LOG"),
    "D": ("TCGPY_LOG_FILENAME", "QEMU_LOG_FILENAME"),
    "dfilter": ("TCGPY_DFILTER", "QEMU_DFILTER"),
    "strace": ("TCGPY_STRACE", "QEMU_STRACE"),
    "sysroot": ("TCGPY_LD_PREFIX", "QEMU_LD_PREFIX"),
}

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


def _columns() -> int:
    """The terminal's width as shutil.get_terminal_size gives it (COLUMNS,
    else stdout's terminal, else 80), without importing shutil, which
    imports lzma, bz2 and zlib: ~2 ms of every run, for argparse, whose
    add_argument makes a help formatter for each option."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class _Width:
    """A help formatter that takes the width from _columns()."""

    def __init__(self, prog, indent_increment=2, max_help_position=24, width=None):
        super().__init__(prog, indent_increment, max_help_position, _columns() if width is None else width)


class HelpFormatter(_Width, argparse.HelpFormatter):
    pass


class RawDescriptionHelpFormatter(_Width, argparse.RawDescriptionHelpFormatter):
    pass


def add_run_parser(subparsers) -> argparse.ArgumentParser:
    items = "\n  ".join(f"{k:8} {v}" for k, v in _log_items().items())
    p = subparsers.add_parser(
        "run", help="run a Linux program of another architecture (like qemu-user)",
        usage="%(prog)s [options] PROG [ARGS...]",
        description="Run a static (or, with -L, dynamic) Linux ELF program of a foreign "
                    "architecture, translating it with tcgpy's JIT.",
        formatter_class=RawDescriptionHelpFormatter,
        epilog=RUN_EPILOG.format(items="\n  " + items))
    p.add_argument("-strace", action="store_true",
                   help="log every system call with decoded arguments and result (to stderr or -D)")
    p.add_argument("-d", metavar="ITEMS", action="append",
                   help="comma-separated debug log items (see below; '-d help' lists them)")
    p.add_argument("-D", metavar="FILE", help="write -d and -strace logs to FILE instead of stderr")
    p.add_argument("-dfilter", metavar="RANGES",
                   help="log -d in_asm,op,op_opt,out_asm,exec,cpu only for blocks in these address ranges "
                        "(START+SIZE, END-SIZE or START..END, comma-separated)")
    p.add_argument("-E", metavar="VAR=VALUE", action="append",
                   help="set a guest environment variable (repeatable, or comma-separated)")
    p.add_argument("-U", metavar="VAR", action="append",
                   help="remove a variable from the guest environment (repeatable, or comma-separated)")
    p.add_argument("-0", dest="argv0", metavar="ARGV0", help="use ARGV0 as the guest's argv[0]")
    p.add_argument("-L", metavar="PATH", dest="sysroot",
                   help="sysroot for the ELF interpreter and absolute guest paths "
                        "(e.g. /usr/aarch64-linux-gnu)")
    p.add_argument("-cpu", metavar="MODEL", help="CPU model: the features guest code may use "
                   "('-cpu help' lists them; default max)")
    p.add_argument("-s", metavar="SIZE", dest="stack_size", type=_size,
                   help="main thread stack size in bytes (suffix k, M or G; default 8M)")
    p.add_argument("-r", metavar="RELEASE", dest="uname", help="kernel release uname(2) reports")
    p.add_argument("-seed", metavar="SEED", type=lambda v: int(v, 0),
                   help="seed AT_RANDOM and getrandom(2) so that runs repeat")
    p.add_argument("-one-insn-per-tb", "-singlestep", dest="one_insn_per_tb", action="store_true",
                   help="translate one guest instruction per block")
    p.add_argument("-version", action="version", version=_version_line(),
                   help="print tcgpy's version and exit")
    p.add_argument("-g", metavar="PORT", dest="gdb_port", type=int,
                   help="wait for gdb on TCP port PORT before the first instruction "
                        "(gdb-multiarch: target remote :PORT; 0: a free port, said on stderr; "
                        "also: TCGPY_GDB=PORT)")
    p.add_argument("--accel", choices=("auto", "kvm", "tcg"), default="auto",
                   help="execution engine: kvm (x86_64 guests on an x86_64 host, natively), tcg "
                        "(translation), auto (kvm where it can run the guest; the default)")
    p.add_argument("--stats", action="store_true", help="print JIT statistics to stderr at exit")
    p.add_argument("--count", action="store_true",
                   help="count the guest instructions, blocks, loads and stores run (native counters "
                        "in the translated code) and print them to stderr at exit")
    p.add_argument("--trace", metavar="FILE",
                   help="write the addresses of the last %d blocks run to FILE at exit, one per "
                        "line, oldest first" % TRACE_BLOCKS)
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
    p.add_argument("--exec-ignored", default="", help=argparse.SUPPRESS)   # guest signal numbers
    # PROG is checked by run_main: argparse would call the optional ARGS required too.
    p.add_argument("prog", metavar="PROG", nargs="?", help="the guest program")
    p.add_argument("args", metavar="ARGS", nargs=argparse.REMAINDER, help="its arguments")
    p.set_defaults(_main=run_main, _parser=p)
    return p


def _version_line() -> str:
    from . import __version__
    return f"tcgpy {__version__} (qemu-user compatible command line)"


def _size(text: str) -> int:
    """qemu's -s: bytes, or with a k/M/G suffix; rounded up to whole pages."""
    scale = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}.get(text[-1:].lower(), 1)
    digits = text[:-1] if scale != 1 else text
    try:
        n = int(digits, 0) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid size {text!r}") from None
    if n <= 0:
        raise argparse.ArgumentTypeError(f"invalid size {text!r}")
    return -(-n // 4096) * 4096


def _from_environment(args, parser) -> None:
    """Fill options not given on the command line from ENV_OPTIONS."""
    for dest, names in ENV_OPTIONS.items():
        if getattr(args, dest) not in (None, False):
            continue
        name = next((n for n in names if os.environ.get(n)), None)
        if name is None:
            continue
        value = os.environ[name]
        action = next(a for a in parser._actions if a.dest == dest)
        if isinstance(action, argparse._StoreTrueAction):
            setattr(args, dest, value != "0")
        elif isinstance(action, argparse._AppendAction):
            setattr(args, dest, [value])
        else:
            try:
                setattr(args, dest, action.type(value) if action.type else value)
            except (argparse.ArgumentTypeError, ValueError):
                parser.error(f"{name}={value}: invalid value for {action.option_strings[0]}")


def _unsupported_flag(argv: list[str], parser) -> str | None:
    """The first qemu-user option before PROG that ``tcgpy run`` lacks."""
    known = parser._option_string_actions
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        flag = argv[i].split("=", 1)[0]
        if flag not in known:
            return flag if flag in QEMU_FLAGS else None
        takes_value = known[flag].nargs != 0 and "=" not in argv[i]
        i += 2 if takes_value else 1
    return None


def _cpu_help() -> int:
    """The CPU models of every target (a target without models has one: all
    it implements)."""
    from .frontends import get_arch
    from .targets import names
    for target in names(tcg=True):
        arch = get_arch(target)
        if not arch.cpu_models:
            print(f"Available CPUs ({arch.name}): one model, every implemented feature")
            continue
        print(f"Available CPUs ({arch.name}):")
        for name, model in arch.cpu_models.items():
            print(f"  {name:12} {model.description}")
            print(f"  {'':12} features: {' '.join(model.features)}")
    return 0


def _log_items() -> dict[str, str]:
    from .log import ITEMS
    return {**ITEMS, **_linux_log_items(), "strace": "same as -strace",
            "cache": "a line for each persistent-cache file that could not be used or written"}


def _linux_log_items() -> dict[str, str]:
    from .linux.process import LOG_ITEMS
    return LOG_ITEMS


# -d items that do not look at translation: the persistent cache stays on
# with them (the others log or change what is translated, so they turn it off).
CACHE_NEUTRAL_ITEMS = frozenset({"strace", "cache", "unimp", "guest_errors", "page", "int"})


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


def _say(line: str) -> None:
    """One line to stderr, if tcgpy was given one (``2>&-`` leaves it None)."""
    if sys.stderr is not None:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


def _error(msg: str) -> int:
    _say(f"tcgpy: {msg}")
    return 1


class _Discard:
    """The log when stderr was closed: qemu's writes to it fail unseen too."""
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def _given_environ() -> dict[bytes, bytes]:
    """The environment tcgpy was started with.  When the locale is C or
    unset, Python's start-up (PEP 538) adds LC_CTYPE=C.UTF-8 to its own
    environment; the guest must not inherit that.  /proc/self/environ still
    holds the block execve passed, which setenv never rewrites."""
    env = dict(os.environb)
    try:
        with open("/proc/self/environ", "rb") as f:
            given = {e.partition(b"=")[0] for e in f.read().split(b"\0") if e}
    except OSError:
        return env
    if b"LC_CTYPE" in env and b"LC_CTYPE" not in given:
        del env[b"LC_CTYPE"]
    return env


def _guest_environ(args) -> list[bytes]:
    if args.exec_environ_fd is not None:
        fd = args.exec_environ_fd
        os.lseek(fd, 0, os.SEEK_SET)
        with os.fdopen(fd, "rb") as f:
            import json
            return [os.fsencode(e) for e in json.loads(f.read())]
    env = _given_environ()
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
    if args.count:
        out.append("--count")
    if args.accel != "auto":
        out += ["--accel", args.accel]
    if args.cpu:
        out += ["-cpu", args.cpu]
    if args.stack_size is not None:
        out += ["-s", str(args.stack_size)]
    if args.uname is not None:
        out += ["-r", args.uname]
    if args.seed is not None:
        out += ["-seed", str(args.seed)]
    if args.one_insn_per_tb:
        out.append("-one-insn-per-tb")
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
    from .linux.forkshare import grow_fd_table
    from .linux.loader import LoadError, check_executable, printable, read_elf
    from .log import Logger

    grow_fd_table()
    _from_environment(args, args._parser)
    if args.cpu == "help":
        return _cpu_help()
    if args.prog is None:
        args._parser.error("the following argument is required: PROG")
    items = set(_split_list(args.d))
    if "help" in items:
        for k, v in _log_items().items():
            print(f"{k:8} {v}")
        return 0
    unknown = items - set(_log_items())
    if unknown:
        return _error(f"unknown -d item(s): {', '.join(sorted(unknown))} (try -d help)")
    ranges = None
    if args.dfilter:
        from .log import parse_ranges
        try:
            ranges = parse_ranges(args.dfilter)
        except ValueError as e:
            return _error(f"-dfilter: {e}")
    try:
        if args.execfn is None:     # a guest execve checked this itself
            check_executable(args.prog)
        info = read_elf(args.prog)
    except LoadError as e:
        return _error(printable(str(e)))

    from .linux.ownfile import OwnFile
    # tcgpy's stderr and log are descriptors of its own, out of the guest's
    # reach (ownfile.py): a guest that closes or redirects fd 2 changes
    # neither where -strace goes nor where tcgpy's last words go.
    diag = OwnFile.dup_of(2)
    if diag is not None:
        sys.stderr = diag
    log = diag if diag is not None else (sys.stderr if sys.stderr is not None else _Discard())
    if args.D:
        try:
            # A guest execve re-runs tcgpy with the same -D: keep the parent's lines.
            fd = os.open(args.D, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC
                         | (os.O_APPEND if args.execfn is not None else os.O_TRUNC), 0o644)
        except OSError as e:
            return _error(f"-D {args.D}: {e.strerror}")
        log = OwnFile.dup_of(fd)
        os.close(fd)
        if log is None:
            return _error(f"-D {args.D}: no descriptor left")

    from . import Emulator
    from .linux.hostsig import kill_self
    from .linux.exits import ProcessExit, ProcessKilled
    from .linux.process import LinuxProcess, Options
    from .linux.syscalls.signal import host_signo

    # Linux gives user mode Top Byte Ignore on data addresses (as qemu-user does);
    # only gdb's single steps run a counted number of instructions.
    gdb_port = _gdb_port(args)
    cache_dir = _cache_dir(args, items)
    cache_warn = (lambda m: log.write(m + "\n")) if "cache" in items else None
    from .accel import AccelUnavailable
    try:
        emu = (emulator_factory(info.arch.name) if emulator_factory
               else Emulator(info.arch.name, tbi=info.arch.tbi, icount=gdb_port is not None, cache_dir=cache_dir,
                             cache_warn=cache_warn, cpu=args.cpu, one_insn_per_tb=args.one_insn_per_tb,
                             accel=args.accel))
    except AccelUnavailable as e:
        return _error(str(e))
    except OSError as e:            # /dev/kvm went away or refused a VM between the check and now
        return _error(f"KVM: {e.strerror or e}")
    except ValueError as e:         # an unknown -cpu model
        return _error(f"-cpu: {e} ('-cpu help' lists them)")
    # A guest of the host's own architecture run natively (KVM) finds its
    # libraries where the host's are, as if run directly: -L / by default.
    sysroot = args.sysroot if args.sysroot or not getattr(emu, "native", False) else "/"
    opts = Options(strace=args.strace or "strace" in items, sysroot=sysroot, log=log, diag=diag,
                   exec_argv=_exec_argv(args), stack_size=args.stack_size, uname_release=args.uname,
                   seed=args.seed, ignored=frozenset(int(n) for n in _split_list([args.exec_ignored])),
                   log_items=frozenset(items & set(_linux_log_items())))
    if exec_prefix is not None:
        opts.exec_prefix = list(exec_prefix)
    proc = LinuxProcess(emu, info.arch, opts)
    argv = [os.fsencode(args.argv0 if args.argv0 is not None else args.prog)]
    argv += [os.fsencode(a) for a in args.args]
    execfn = os.fsencode(args.execfn if args.execfn is not None else args.prog)
    try:
        proc.load(args.prog, argv, _guest_environ(args), execfn)
    except LoadError as e:
        return _error(printable(str(e)))
    if items - CACHE_NEUTRAL_ITEMS and hasattr(emu, "set_log"):
        emu.set_log(Logger(items - CACHE_NEUTRAL_ITEMS, log, emu.arch, ranges=ranges))
    # The signal watcher before the LLVM thread: glibc gives each thread a
    # malloc arena of its own, and a forked child's first new thread (its
    # watcher: hostsig.py) takes over the parent's oldest one, so the oldest
    # should be the watcher's few blocks, not LLVM's 20 MiB, whose free
    # lists the child's first malloc would sort: 0.6 MiB of each sleeping
    # child's 3.2 MiB of its own (bench/fork_footprint.py).
    proc.start_signal_watcher()
    if hasattr(emu, "set_background_compile") and os.environ.get("TCGPY_COMPILE_THREAD", "1") != "0":
        emu.set_background_compile(True)
    if emulator_factory is not None and hasattr(emu, "set_cache_dir"):
        emu.set_cache_dir(cache_dir, warn=cache_warn)
    counters, trace = {}, None
    if args.stats and not hasattr(emu, "stats"):
        return _error("--stats shows the TCG engine's translation statistics: the KVM engine translates "
                      "nothing (--accel tcg)")
    if args.count or args.trace:
        if not hasattr(emu, "counter_add"):
            return _error("--count and --trace need the TCG engine (--accel tcg)")
        if args.count:
            from .hooks import COUNT_KINDS
            counters = {kind: emu.counter_add(kind) for kind in COUNT_KINDS}
        if args.trace:
            trace = emu.trace_add(TRACE_BLOCKS)

    def finish():
        if cache_dir is not None and hasattr(emu, "save_cache"):
            # in a detached process unless asked to wait (tests, benchmarks)
            emu.save_cache(background=os.environ.get("TCGPY_CACHE_SYNC", "0") in ("", "0"))
        if args.stats:
            _say(f"tcgpy: JIT statistics\n{emu.stats.format()}")
        for kind, counter in counters.items():
            _say(f"tcgpy count {kind}: {counter.value}")
        if trace is not None:
            try:
                with open(args.trace, "w") as f:
                    f.writelines(f"{a:#x}\n" for a in trace.addresses())
            except OSError as e:
                _say(f"tcgpy: --trace {args.trace}: {e.strerror}")
        proc.flush_logs()

    from .gcpolicy import tune_for_run
    tune_for_run()
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
            _say(e.message)
        kill_self(host_signo(proc, e.signo))
    return 0


def build_parser(run_only: bool = False) -> argparse.ArgumentParser:
    """The command line's parser; ``run_only``: with the ``run`` subcommand
    alone (a guest's start-up does not import the others: 4 ms)."""
    parser = argparse.ArgumentParser(
        prog="tcgpy", description="tcgpy: a QEMU-TCG-style dynamic binary translator in Python",
        formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=_version_line())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    add_run_parser(sub)
    for name in () if run_only else SUBCOMMAND_MODULES:
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
    # Python's handler turns a Ctrl-C while tcgpy imports or loads into a
    # KeyboardInterrupt traceback; the default action ends tcgpy as a Ctrl-C
    # at any later time does (the Linux layer takes SIGINT over for the guest).
    # (Python installs its handler only where SIGINT was not ignored: an
    # ignored SIGINT stays ignored, for the guest to inherit.)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(run_only=argv[:1] == ["run"])
    if argv[:1] == ["run"]:
        flag = _unsupported_flag(argv[1:], parser._subparsers._group_actions[0].choices["run"])
        if flag is not None:
            return _error(f"run: qemu option {flag} is not supported by tcgpy (see tcgpy run --help)")
    args = parser.parse_args(argv)
    try:
        return args._main(args) or 0
    except BrokenPipeError:
        # A log reader went away: qemu dies of SIGPIPE there.
        from .linux.hostsig import kill_self
        kill_self(signal.SIGPIPE)
    except Exception as e:  # a tcgpy bug, not the guest's doing: one line unless asked
        if os.environ.get("TCGPY_TRACEBACK"):
            raise
        import traceback
        where = traceback.extract_tb(e.__traceback__)[-1]
        return _error(f"internal error: {type(e).__name__}: {e} ({os.path.basename(where.filename)}:"
                      f"{where.lineno}; TCGPY_TRACEBACK=1 shows the traceback)")


if __name__ == "__main__":
    sys.exit(main())
