"""Programs nobody here wrote, under the KVM engine and natively: stdout,
stderr and exit status must be the same.

* Debian's amd64 ``busybox-static`` (opt-in, ``-m realworld``: fetched by
  tests/guest/get_busybox_amd64.sh, which get_realworld.sh runs): the
  AArch64 suite's applet commands (tests/test_linux_busybox.py) and more
  applets, and ``sh`` scripts.
* The host's own dynamically linked programs (python3, perl, git, sqlite3,
  coreutils, awk, xz), multi-threaded ones included (xz -T2,
  sort --parallel=2, Python threads and processes, perl threads): by default,
  each skipped with the reason where the program is absent.
"""
from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_kvm import KVM_PROBLEM, ROOT, TIMEOUT, _run_in_fresh_dir
from tests.test_linux_busybox import COMMANDS, KERNEL_EXPECTED

BUSYBOX = ROOT / "tests" / "guest" / "ext" / "busybox-amd64"
TCGPY_RUN = [sys.executable, "-m", "tcgpy", "run", "--accel", "kvm"]

needs_kvm = pytest.mark.skipif(bool(KVM_PROBLEM), reason=f"KVM cannot run here: {KVM_PROBLEM}")

# Beyond the AArch64 suite's commands: more applets, and the shell's
# functions, jobs, traps, redirections and builtins.
MORE_COMMANDS = [
    'sh -c \'f() { echo "f:$1:$#"; return 3; }; f a b; echo $?; case abc in a*) echo star;; *) echo no;; esac; x=5; echo $((x * 3 + 1)) ${x:-d} ${y:-def} ${#x}\'',
    "sh -c 'for i in 1 2 3 4; do (echo sub $i > j$i; exit $i) & done; wait; cat j1 j2 j3 j4; echo all; i=0; until [ $i -ge 3 ]; do i=$((i+1)); done; echo $i; echo $(( 7 / 2 )) $(( 7 % 3 )) $(( 1 << 10 ))'",
    'sh -c \'trap "echo exit trap" EXIT; echo body; false || echo or; true && echo and; [ -d . ] && echo dir; test 3 -gt 2 && echo gt; echo ${PWD##*/} | wc -c >/dev/null\'',
    'sh -c \'exec 4<in.txt; read l <&4; echo "$l"; exec 4<&-; printf "%s-%d\\n" a 1 b 2; echo a:b:c | { IFS=: read x y z; echo $z$y$x; }\'',
    "sh -c 'mkfifo p; (echo through fifo > p &); cat p; rm p'",
    "sh -c 'sleep 0.2 & p=$!; kill -STOP $p 2>/dev/null; kill -CONT $p; wait $p; echo waited $?'",
    "sh -c 'ulimit -s; ulimit -c 0; ulimit -c'",
    'sh -c \'printf "x\\ny\\nz\\n" | tac; printf "a b\\n" | rev; printf "1\\n2\\n" | paste -s -d+ | bc 2>/dev/null || echo nobc\'',
    "sh -c 'echo hello > f && cp -p f g && cmp f g && ln f h && stat -c %h f && rm f g h && ls'",
    'tee t.out',
    "sh -c 'seq 1 10 | split -l 3 - part_ && ls part_* && cat part_ab && rm part_*'",
    'sh -c \'printf "b\\na\\nb\\nc\\n" | sort | uniq -d; printf "1 a\\n2 b\\n" > x; printf "1 A\\n2 B\\n" > y; join x y; comm -12 x x | wc -l; rm x y\'',
    "sh -c 'echo hello | base64 | tee b64 && base64 -d b64 && rm b64'",
    "sh -c 'gzip -c in.txt > i.gz && zcat i.gz && gunzip -t i.gz && echo ok && rm i.gz'",
    "sh -c 'xz -c in.txt > i.xz 2>/dev/null && unxz -c i.xz; lzop -c in.txt 2>/dev/null | lzop -dc 2>/dev/null; echo rc'",
    "sh -c 'echo in.txt | cpio -o -H newc 2>/dev/null | cpio -t 2>/dev/null'",
    'sh -c \'printf "line1\\nline2\\n" > e.txt && printf "2d\\nw\\nq\\n" | ed -s e.txt && cat e.txt\'',
    'sh -c \'printf "a\\nb\\n" > o && printf "a\\nc\\n" > n; diff -u o n | tail -n +3; echo status $?\'',
    "sh -c 'diff -u /dev/null in.txt > p.diff; rm -f new; patch -s new < p.diff 2>&1; cat new 2>/dev/null | head -1'",
    'fold -w 3 in.txt',
    'expand in.txt',
    'strings /bin/busybox',
    'cksum in.txt',
    'sum in.txt',
    'md5sum -c /dev/null',
    "sh -c 'md5sum in.txt > s && md5sum -c s'",
    "sh -c 'truncate -s 100 tr && stat -c %s tr && rm tr'",
    "sh -c 'install -m 640 in.txt inst && stat -c %a inst && rm inst'",
    "sh -c 'mktemp -d -p . | grep -c tmp'",
    "sh -c 'realpath . | grep -c /'",
    'printenv HOME',
    'id -u',
    "sh -c 'whoami >/dev/null && echo me'",
    "sh -c 'echo $$ > pid; test -d /proc/$(cat pid) && echo proc ok'",
    "sh -c 'ps -o pid,comm | head -1'",
    "sh -c 'seq 100 | xargs -P 2 -n 10 echo | wc -l'",
    'sh -c \'find . -name "*.txt" -exec wc -c {} \\;\'',
    'sh -c \'timeout 0.2 sh -c "while :; do :; done"; echo $?\'',
    "nice -n 5 sh -c 'echo niced'",
    'nohup echo nohup-out',
    'sh -c \'echo 1+2*3 | bc 2>/dev/null; awk "BEGIN{srand(1); print int(rand()*0)}"\'',
    'awk \'function f(n) { return n <= 1 ? 1 : n * f(n - 1) } BEGIN { print f(10); print length("abc"); print substr("hello", 2, 3); print toupper("x"); n = split("a,b,c", arr, ","); print n, arr[3]; printf "%c%c\\n", 72, 105 }\'',
    "sh -c 'dd if=/dev/zero bs=1k count=64 2>/dev/null | md5sum'",
    "sh -c 'head -c 1000 /dev/urandom | wc -c'",
    "sh -c 'uname -s; uname -m; arch'",
    'sh -c \'date -u -d "2020-01-02 03:04:05" +"%Y %j %a %s"\'',
    "sh -c 'hostname | wc -l'",
    'usleep 1000',
    "sh -c 'kill -l | head -2; kill -l 15'",
    "sh -c 'stty 2>&1 | head -1; tty; echo $?'",
]

# Whole scripts, run as ``busybox sh script``.
SCRIPTS = {
    "heredoc-read-getopts": """cat <<END
here $((1 + 2)) doc
END
while read a b; do echo "[$a|$b]"; done < in.txt
set -- p q r
shift
echo "$@"
getopts ab: o -b v && echo "$o $OPTARG"
""",
    "functions-and-jobs": """count() {
    local n=0
    while [ $n -lt "$1" ]; do n=$((n + 1)); done
    echo "counted $n"
}
count 500
for i in 1 2 3; do
    (sleep 0.0$i; echo "job $i" > "job$i") &
done
wait
cat job1 job2 job3
trap 'echo caught INT' INT
kill -INT $$
echo "after trap"
out=$(seq 3 | while read x; do echo "line$x"; done | tr '\\n' ' ')
echo "$out"
exit 4
""",
    "sed-awk-pipeline": """sed -e '1i\\
top' -e '$a\\
bottom' -e 's/\\([a-c]\\) \\([0-9]\\)/\\2=\\1/' in.txt
awk '{ sum[$1] += $2 } END { for (k in sum) print k, sum[k] }' in.txt | sort
printf '%s\\n' 3 1 2 | sort -n | xargs echo sorted:
""",
}


def _busybox(args: list[str], tmp: Path, runner: list[str]) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp), "LANG": "C", "PYTHONPATH": str(ROOT)}
    return subprocess.run(runner + [str(BUSYBOX), *args], input=b"stdin line\nsecond\n", capture_output=True,
                          cwd=tmp, env=env, timeout=TIMEOUT)


def _compare(args: list[str], tmp_path: Path) -> None:
    native, kvm = tmp_path / "native", tmp_path / "kvm"
    for d in (native, kvm):
        d.mkdir()
        (d / "in.txt").write_text("b 2\na 1\nc 3\n")
    ref = _busybox(args, native, [])
    res = _busybox(args, kvm, TCGPY_RUN)
    assert (res.stdout, res.stderr, res.returncode) == (ref.stdout, ref.stderr, ref.returncode)


def busybox_test(f):
    """Opt-in (realworld), and only with KVM and the fetched busybox."""
    for mark in (pytest.mark.realworld, needs_kvm,
                 pytest.mark.skipif(not BUSYBOX.exists(),
                                    reason="run tests/guest/get_busybox_amd64.sh to fetch busybox-static:amd64")):
        f = mark(f)
    return f


@busybox_test
@pytest.mark.parametrize("cmd", COMMANDS + [c for c, _, _ in KERNEL_EXPECTED] + MORE_COMMANDS)
def test_busybox_matches_native(cmd, tmp_path):
    _compare(shlex.split(cmd), tmp_path)


@busybox_test
@pytest.mark.parametrize("name", SCRIPTS)
def test_busybox_script_matches_native(name, tmp_path):
    script = tmp_path / "script.sh"
    script.write_text(SCRIPTS[name])
    _compare(["sh", str(script)], tmp_path)


# -- the host's own programs ---------------------------------------------------------------
# (programs it needs, shell command): run by /bin/sh -c in a fresh directory
# holding in.txt, natively and under `tcgpy run` (which runs the shell too).
HOST_COMMANDS = [
    pytest.param(("python3",), "python3 -c 'import sys, json, hashlib, re, zlib, decimal, fractions, datetime\n"
                 "print(json.dumps({\"a\": [1, 2.5]}), hashlib.sha256(b\"x\").hexdigest()[:16], "
                 "re.sub(\"a+\", \"-\", \"baaac\"), len(zlib.compress(b\"a\" * 1000)), decimal.Decimal(1) / 7, "
                 "fractions.Fraction(3, 9), datetime.date(2020, 2, 29) + datetime.timedelta(days=365))'",
                 id="python3-stdlib"),
    pytest.param(("python3",), "python3 -c 'import concurrent.futures as cf, hashlib\n"
                 "with cf.ThreadPoolExecutor(4) as ex:\n"
                 "    print(list(ex.map(lambda i: hashlib.sha1(str(i).encode() * 10000).hexdigest()[:8], range(8))))'",
                 id="python3-thread-pool"),
    # process-shared semaphores between the pool's processes (linux/hostfutex.py)
    pytest.param(("python3",), "python3 -c 'import multiprocessing as mp\n"
                 "def sq(x): return x * x\n"
                 "if __name__ == \"__main__\":\n"
                 "    with mp.Pool(2) as p: print(p.map(sq, range(10)))'",
                 id="python3-multiprocessing"),
    # shared memory a child writes, a Manager (a server process and sockets), a spawn-context pool
    pytest.param(("python3",), "python3 -c 'import multiprocessing as mp\n"
                 "from multiprocessing import shared_memory\n"
                 "def child(name, q):\n"
                 "    s = shared_memory.SharedMemory(name=name); s.buf[0] = 42; s.close(); q.put(\"done\")\n"
                 "if __name__ == \"__main__\":\n"
                 "    s = shared_memory.SharedMemory(create=True, size=4096); q = mp.Queue()\n"
                 "    p = mp.Process(target=child, args=(s.name, q)); p.start(); print(q.get(), s.buf[0]); "
                 "p.join(); print(p.exitcode); s.close(); s.unlink()\n"
                 "    with mp.Manager() as m:\n"
                 "        d = m.dict(); d[\"x\"] = 1; print(dict(d))\n"
                 "    with mp.get_context(\"spawn\").Pool(2) as pool: print(pool.map(abs, [-1, -2, 3]))'",
                 id="python3-processes"),
    # an interval timer's signals, a socket pair with select, a shell pipeline, an mmap a fork shares
    pytest.param(("python3",), "python3 -c 'import signal, time, socket, select, os, subprocess, mmap\n"
                 "hits = []\n"
                 "signal.signal(signal.SIGALRM, lambda *a: hits.append(1))\n"
                 "signal.setitimer(signal.ITIMER_REAL, 0.01, 0.01)\n"
                 "while len(hits) < 5: time.sleep(0.001)\n"
                 "signal.setitimer(signal.ITIMER_REAL, 0)\n"
                 "a, b = socket.socketpair(); a.sendall(b\"ping\"); r, _, _ = select.select([b], [], [], 1)\n"
                 "print(len(hits) >= 5, b.recv(4), r == [b])\n"
                 "print(subprocess.run(\"echo a | tr a b | cat\", shell=True, capture_output=True, "
                 "text=True).stdout.strip())\n"
                 "m = mmap.mmap(-1, 4096); m[0:3] = b\"abc\"; pid = os.fork()\n"
                 "if pid == 0:\n    m[0:3] = b\"xyz\"; os._exit(0)\n"
                 "os.waitpid(pid, 0); print(m[0:3])'",
                 id="python3-signals-sockets"),
    pytest.param(("python3",), "python3 -c 'import asyncio\n"
                 "async def f(i):\n    await asyncio.sleep(0.01 * i); return i * i\n"
                 "async def main(): print(await asyncio.gather(*(f(i) for i in range(5))))\n"
                 "asyncio.run(main())'",
                 id="python3-asyncio"),
    pytest.param(("perl",), "perl -MPOSIX -MList::Util=sum,max -e 'print sum(1..100), \" \", max(3, 9, 2), \" \", "
                 "POSIX::floor(-2.5), \" \", sprintf(\"%08.3f\", 3.14159), \"\\n\"; my $pid = fork(); "
                 "if (!$pid) { exit 5 } waitpid($pid, 0); print $? >> 8, \"\\n\"; pipe(R, W); "
                 "if (!fork()) { close R; print W \"from child\\n\"; exit 0 } close W; print scalar <R>; wait; "
                 "open(my $f, \"<\", \"in.txt\") or die; my @l = <$f>; print scalar(@l), \"\\n\"'",
                 id="perl"),
    pytest.param(("perl",), "perl -e 'use threads; my @t = map { threads->create(sub { my $s = 0; "
                 "$s += $_ for 1..100000; $s * $_[0] }, $_) } 1..3; print join(\" \", map { $_->join } @t), \"\\n\"'",
                 id="perl-threads"),
    pytest.param(("git",), "git init -q repo && cd repo && git config user.email a@b && git config user.name n "
                 "&& echo hi > f && git add f && git commit -qm first && git log --format=%s "
                 "&& git cat-file -p HEAD^{tree} && git status --short && echo x >> f && git diff --stat",
                 id="git"),
    pytest.param(("sqlite3",), "sqlite3 db 'create table t(a, b); with recursive c(x) as (select 1 union all "
                 "select x + 1 from c where x < 1000) insert into t select x, x * x from c; create index i on t(b);' "
                 "&& sqlite3 db 'select count(*), sum(b) % 1000, max(a) from t where b > 1000; pragma integrity_check;'",
                 id="sqlite3"),
    pytest.param(("awk",), "awk '{s += $2; n[$1]++} END {for (k in n) c++; printf \"%d %d %.2f\\n\", s, c, s / NR}' "
                 "in.txt && awk 'BEGIN { for (i = 1; i <= 5; i++) printf \"%d %.3f\\n\", i, sqrt(i) }'",
                 id="awk"),
    pytest.param(("xz", "seq", "sha256sum"), "seq 1 200000 > big && xz -T2 -6 -c big > big.xz "
                 "&& xz -dc -T2 big.xz | sha256sum && xz -l big.xz | tail -1 | awk '{print $NF}'",
                 id="xz-threads"),
    pytest.param(("sort", "seq", "md5sum"), "seq 1 300000 | sed 's/^\\(.\\)\\(.*\\)$/\\2\\1/' > s "
                 "&& sort --parallel=2 -S 1M -n s | md5sum && sort --parallel=2 -u s | wc -l",
                 id="sort-parallel"),
    pytest.param(("ls", "sha256sum", "stat", "od", "find"),
                 "ls -la --time-style=+ in.txt | cut -d' ' -f1,5-; sha256sum in.txt; wc in.txt; cp in.txt b; "
                 "mv b c; stat -c '%s %a' c; head -c 5 in.txt | od -c; tr a-z A-Z < in.txt | sort | uniq -c; "
                 "mkdir -p d/e; touch d/e/f; find d | sort; date -u -d @0; printf '%s\\n' x y | tac; expr 3 + 4; "
                 "env -i A=1 env; ls /nonexistent; echo status $?",
                 id="coreutils"),
    pytest.param(("tar", "gzip", "bzip2"), "tar czf a.tgz in.txt && tar tzf a.tgz && gzip -c in.txt | gzip -dc "
                 "| md5sum && bzip2 -c in.txt | bzip2 -dc | wc -c", id="tar-gzip-bzip2"),
    pytest.param(("bash",), "bash -c 'declare -A m=([x]=1 [y]=2); for k in \"${!m[@]}\"; do echo $k; done | sort; "
                 "a=(1 2 3); echo ${#a[@]} $((a[1] * 7)); f() { local v=$1; echo \"f $v\"; }; f arg; "
                 "trap \"echo trapped\" USR1; kill -USR1 $$; (sleep 0.1; exit 4) & wait $!; echo st $?'",
                 id="bash"),
]


@needs_kvm
@pytest.mark.parametrize("programs,cmd", HOST_COMMANDS)
def test_host_program_matches_native(programs, cmd):
    missing = [p for p in programs if shutil.which(p, path="/usr/bin:/bin") is None]
    if missing:
        pytest.skip(f"not on this host: {', '.join(missing)}")
    script = f"printf 'b 2\\na 1\\nc 3\\n' > in.txt && {cmd}"
    native, _ = _run_in_fresh_dir(["/bin/sh", "-c", script])
    assert native.returncode == 0 and native.stdout, native.stderr       # the command does run here
    kvm, _ = _run_in_fresh_dir(TCGPY_RUN + ["/bin/sh", "-c", script])
    assert (kvm.stdout, kvm.stderr, kvm.returncode) == (native.stdout, native.stderr, native.returncode)
