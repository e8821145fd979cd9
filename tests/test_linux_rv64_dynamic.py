"""Real dynamic RISC-V 64 programs nobody here wrote: Debian 13's (trixie)
python3.13, perl, sqlite3, coreutils, gawk, xz and git, with glibc's dynamic
loader and their shared libraries from a sysroot made of trixie riscv64
packages.  Each case is a short sequence of commands run in a fresh directory
through ``tcgpy run -L SYSROOT`` and through ``qemu-riscv64 -L SYSROOT``;
every command's stdout, stderr and exit status must agree, and so must the
files the commands leave behind (an xz archive, a git object store).

What the cases leave out, because qemu-riscv64 7.2 is no reference there:
a program that executes another by its absolute path (git's sub-commands
and maintenance, python's multiprocessing forkserver, perl's qx//) gets the
host's program under qemu-user, which does not apply -L to execve (tcgpy
runs the sysroot's); and a guest killed by a core-dumping signal, where
tcgpy says so on stderr and qemu-user, with RLIMIT_CORE at 0, says nothing.

Opt-in (``-m realworld``, not in the default run): needs
``tests/guest/get_riscv64_sysroot.sh`` (or ``get_realworld.sh``, which runs
it) to have built tests/guest/ext/riscv64/sysroot, and qemu-riscv64 as the
reference.  Cold first runs of these programs translate a lot of code; set
TCGPY_CACHE_DIR to a directory kept between runs to reuse the translations."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SYSROOT = ROOT / "tests" / "guest" / "ext" / "riscv64" / "sysroot"
QEMU = shutil.which("qemu-riscv64")

pytestmark = [
    pytest.mark.realworld,
    pytest.mark.skipif(not (SYSROOT / "usr" / "bin" / "git").exists(),
                       reason="run tests/guest/get_riscv64_sysroot.sh to build the riscv64 sysroot"),
    pytest.mark.skipif(QEMU is None, reason="qemu-riscv64 is the reference for these programs' output"),
]

PYTHON = r"""
import sys, os, re, json, math, itertools, collections, hashlib, struct, datetime, textwrap
print(sys.version_info[:2], sys.byteorder, sys.maxsize)
c = collections.Counter(re.findall(r"\w+", open("in.txt").read()))
print(json.dumps(sorted(c.items()), separators=(",", ":")))
print(hashlib.sha256(b"tcgpy").hexdigest(), hashlib.md5(b"x" * 1000).hexdigest())
print(math.fsum(1 / k for k in range(1, 10001)), math.sqrt(2), 10 ** 40 // 7, 2.5 ** -3)
print(struct.pack("<dq", math.pi, -2).hex(), float.fromhex("0x1.8p-1074"))
print(list(itertools.permutations("abc", 2))[:4], sorted({3: 1, 1: 2}.items()))
print(datetime.date(2024, 2, 29) + datetime.timedelta(days=365), os.getcwd() == os.environ["PWD"])
print(textwrap.fill("lorem ipsum dolor sit amet " * 4, 30))
d = {}
for i in range(20000):
    d[i * 7919 % 10007] = str(i)
print(len(d), sum(map(int, d.values())) % 1000003)
try:
    1 / 0
except ZeroDivisionError as e:
    print("caught", e)
sys.stderr.write("to stderr\n")
sys.exit(3)
"""

PERL = r"""
use strict; use warnings; use List::Util qw(sum max first); use POSIX qw(floor);
my %h; open(my $f, '<', 'in.txt') or die; while (<$f>) { $h{$_}++ for /(\w+)/g } close $f;
print join(',', map { "$_=$h{$_}" } sort keys %h), "\n";
printf "%.6f %e %d %s\n", atan2(1, 1) * 4, 1/3, floor(-2.5), sum(1..1000);
my @a = sort { $b <=> $a } map { ($_ * 7919) % 10007 } 1..5000; print "$a[0] $a[-1] ", max(@a), "\n";
my $s = "The quick brown fox"; (my $t = $s) =~ s/(\w+)/\u\L$1/g; print scalar(reverse $t), "\n";
print sprintf("%08b", 200), " ", unpack("H*", pack("N", 0xdeadbeef)), " ", lc(first { /o/ } split ' ', $s), "\n";
warn "to stderr\n"; exit 4;
"""

SQL = """
create table t(id integer primary key, name text, v real);
with recursive n(i) as (select 1 union all select i + 1 from n where i < 2000)
insert into t(name, v) select 'n' || (i % 17), i * 0.5 from n;
create index t_name on t(name);
select name, count(*), sum(v), printf('%.3f', avg(v)) from t group by name order by name limit 5;
select group_concat(id, ',') from (select id from t where v between 10 and 13);
select hex('Az'), length(zeroblob(100)), typeof(1.5), abs(-7), upper('abc'), 7 / 2, 7 % 3;
select json_object('a', 1, 'b', json_array(1, 2.5, 'x'));
select * from missing_table;
"""

GAWK = r"""
{ n[$1] += $2; total += $2; words = words " " toupper($1) }
END {
    k = asorti(n, keys); for (i = 1; i <= k; i++) printf "%s=%d ", keys[i], n[keys[i]]; print ""
    printf "%.6f %e %d %s\n", atan2(0, -1), exp(10), int(-3.7), total / NR
    s = "hello world"; gsub(/o/, "0", s); print s, length(s), index(s, "w"), substr(s, 3, 4)
    print strftime("%Y-%m-%d", 0, 1), sprintf("%x", 255), 2 ** 53 + 1, split("a:b:c", p, ":")
    for (i = 0; i < 20000; i++) h[i % 97] += i; print length(h), h[5]
    print words; print "to stderr" > "/dev/stderr"; exit 5
}
"""

# A child on a pseudo-terminal (forkpty: ptmx ioctls, a new session with
# its controlling terminal), threads, a timer signal, a socket pair, splice,
# and a child signalled and reaped through a pidfd.
PYTHON_OS = r"""
import os, pty, signal, socket, threading, time
pid, fd = pty.fork()
if pid == 0:
    print("child on a tty:", os.isatty(0), os.getsid(0) == os.getpid(), flush=True)
    os._exit(4)
out = b""
while True:
    try:
        data = os.read(fd, 100)
    except OSError:      # EIO: the child has gone
        break
    if not data:
        break
    out += data
print(out, os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
got = []
signal.signal(signal.SIGALRM, lambda s, f: got.append(s))
signal.setitimer(signal.ITIMER_REAL, 0.05)
results = [0] * 4
def work(i):
    results[i] = sum(k * k for k in range(i * 20000))
threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
while not got:
    time.sleep(0.01)
a, b = socket.socketpair()
a.sendall(b"ping")
print(results, got, b.recv(4))
r, w = os.pipe()
print(os.splice(os.open("in.txt", os.O_RDONLY), w, 8, offset_src=2), os.read(r, 8))
pid = os.fork()
if pid == 0:
    signal.pause()
    os._exit(0)
pidfd = os.pidfd_open(pid)
signal.pidfd_send_signal(pidfd, signal.SIGTERM)
print(os.waitid(os.P_PIDFD, pidfd, os.WEXITED).si_status)
"""

IN_TXT = "b 2\na 1\nc 3\nb 4\nthe quick brown fox jumps 5\n"


def _data(tmp: Path) -> None:
    (tmp / "in.txt").write_text(IN_TXT)
    (tmp / "big.txt").write_text("".join(f"line {i * 7919 % 10007} {'x' * (i % 13)}\n" for i in range(3000)))


def _git(*args: str) -> list[str]:
    return ["usr/bin/git", *args]


# (case id, [guest argv...]): argv[0] is a path inside the sysroot.
CASES = [
    ("python3", [["usr/bin/python3.13", "-S", "-c", PYTHON]]),
    ("python3-os", [["usr/bin/python3.13", "-S", "-c", PYTHON_OS]]),
    ("python3-error", [["usr/bin/python3.13", "-S", "-c", "import json; json.loads('{')"]]),
    ("perl", [["usr/bin/perl", "-e", PERL]]),
    ("sqlite3", [["usr/bin/sqlite3", "-batch", "-bail", ":memory:", SQL]]),
    ("sqlite3-file", [["usr/bin/sqlite3", "db.sqlite", "create table a(x); insert into a values (1), (2);"],
                      ["usr/bin/sqlite3", "db.sqlite", "select sum(x), count(*) from a; pragma integrity_check;"]]),
    ("coreutils", [["usr/bin/sort", "-k2", "-n", "big.txt"], ["usr/bin/sort", "-u", "-r", "in.txt"],
                   ["usr/bin/sha256sum", "in.txt", "big.txt"], ["usr/bin/wc", "in.txt", "big.txt"],
                   ["usr/bin/ls", "-1F", "--color=never", "."], ["usr/bin/ls", "-s", "missing"],
                   ["usr/bin/sha512sum", "big.txt"], ["usr/bin/b2sum", "in.txt"]]),
    ("gawk", [["usr/bin/gawk", GAWK, "in.txt"],
              ["usr/bin/gawk", "-F", " ", "{ c[$2 % 10]++ } END { for (k in c) s += c[k] * k; print s, NR }",
               "big.txt"]]),
    ("xz", [["usr/bin/xz", "-k", "-6", "big.txt"], ["usr/bin/xz", "-t", "big.txt.xz"],
            ["usr/bin/xz", "-dc", "big.txt.xz"], ["usr/bin/xz", "-l", "big.txt.xz"],
            ["usr/bin/xz", "-d", "in.txt"]]),
    ("git", [_git("init", "-q", "-b", "main", "repo"),
             _git("-C", "repo", "add", "../in.txt"),
             ["usr/bin/cp", "in.txt", "big.txt", "repo/"],
             _git("-C", "repo", "add", "in.txt", "big.txt"),
             _git("-C", "repo", "commit", "-q", "-m", "first"),
             _git("-C", "repo", "log", "--format=%H %an %s"),
             _git("-C", "repo", "status", "--short", "--branch"),
             _git("-C", "repo", "cat-file", "-p", "HEAD^{tree}"),
             _git("-C", "repo", "show", "--stat", "--format=%s", "HEAD"),
             _git("-C", "repo", "checkout", "-q", "-b", "topic"),
             ["usr/bin/gawk", "-i", "inplace", "{ sub(/^b 2/, \"b 20\") } 1", "repo/in.txt"],
             _git("-C", "repo", "commit", "-q", "-a", "-m", "second"),
             _git("-C", "repo", "checkout", "-q", "main"),
             _git("-C", "repo", "merge", "-q", "--ff-only", "topic"),
             _git("-C", "repo", "diff", "HEAD~1", "--", "in.txt"),
             _git("-C", "repo", "blame", "-s", "in.txt"),
             _git("-C", "repo", "rev-list", "--count", "HEAD"),
             _git("-C", "repo", "nosuchcommand")]),
]

# A fixed, private environment, so that both runs see the same one (git's
# commit hashes depend on the author, committer and dates).
# PYTHONDONTWRITEBYTECODE: the guest python3 leaves the shared sysroot as
# the packages made it.
ENV = {"LANG": "C", "LC_ALL": "C", "TZ": "UTC", "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1",
       "GIT_AUTHOR_NAME": "A U Thor", "GIT_AUTHOR_EMAIL": "a@example.com",
       "GIT_COMMITTER_NAME": "C O Mitter", "GIT_COMMITTER_EMAIL": "c@example.com",
       "GIT_AUTHOR_DATE": "2005-04-07T22:13:13Z", "GIT_COMMITTER_DATE": "2005-04-07T22:13:13Z",
       "GIT_CONFIG_NOSYSTEM": "1",
       # git's automatic maintenance runs "git maintenance" as a new program:
       # qemu-user would run the host's git for it (it execs host paths).
       "GIT_CONFIG_COUNT": "2", "GIT_CONFIG_KEY_0": "maintenance.auto", "GIT_CONFIG_VALUE_0": "false",
       "GIT_CONFIG_KEY_1": "gc.auto", "GIT_CONFIG_VALUE_1": "0"}


def _run_case(prefix: list[str], steps: list[list[str]], cwd: Path) -> list[tuple]:
    _data(cwd)
    env = {**ENV, "HOME": str(cwd), "PWD": str(cwd)}
    if "TCGPY_CACHE_DIR" in os.environ:
        env["TCGPY_CACHE_DIR"] = os.environ["TCGPY_CACHE_DIR"]
    env["PYTHONPATH"] = str(ROOT)   # for tcgpy's own interpreter, not the guest's python3 (-U)
    results = []
    for argv in steps:
        p = subprocess.run([*prefix, "-U", "PYTHONPATH", "-L", str(SYSROOT), str(SYSROOT / argv[0]), *argv[1:]],
                           stdin=subprocess.DEVNULL, capture_output=True, cwd=cwd, env=env, timeout=600)
        results.append((argv[0], p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"),
                        p.returncode))
    return results


def _tree(top: Path) -> dict[str, str]:
    """Every file left behind, by path, with a digest of its bytes."""
    return {str(f.relative_to(top)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(top.rglob("*")) if f.is_file() and "index" != f.name}


@pytest.mark.parametrize("steps", [s for _, s in CASES], ids=[c for c, _ in CASES])
def test_rv64_dynamic_matches_qemu(steps, tmp_path):
    # Both runs happen in the same directory (renamed in between), since
    # messages name it.
    work = tmp_path / "work"
    work.mkdir()
    ref = _run_case([QEMU], steps, work)
    work.rename(tmp_path / "qemu")
    work.mkdir()
    res = _run_case([sys.executable, "-m", "tcgpy", "run"], steps, work)
    assert any(out or err for _, out, err, _ in ref), "the reference printed nothing: the case tests nothing"
    for r, q in zip(res, ref):
        assert r == q, f"{r[0]}: tcgpy\n{r}\nqemu-riscv64\n{q}"
    assert _tree(work) == _tree(tmp_path / "qemu")
