"""Real AArch64 programs nobody here wrote, besides busybox: zsh (glibc,
static), mksh linked against musl, dietlibc and klibc, and shfmt (a static Go
program: goroutines on host threads, futexes, runtime signals).  Each runs
through ``tcgpy run`` and through qemu-aarch64, and stdout, stderr and the
exit status must agree.  Opt-in (``-m realworld``): needs
``tests/guest/get_realworld.sh`` to have fetched the programs and
qemu-aarch64 as the reference."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXT = ROOT / "tests" / "guest" / "ext"
QEMU = shutil.which("qemu-aarch64")

pytestmark = [
    pytest.mark.realworld,
    pytest.mark.skipif(QEMU is None, reason="qemu-aarch64 is the reference for these programs' output"),
]

ZSH = """
echo *.txt(.N) | wc -w
(sleep 0.1; echo bg) & wait
trap 'echo trapped' USR1; kill -USR1 $$
while read l; do echo "<$l>"; done
f() { return 42 }; f; echo $?
print -l ${(s:,:)${:-a,b,c}}
typeset -A h; h[k]=v; echo ${(k)h} ${h[k]}
echo $(( 10.0/3 )) $(( 2**62 )) $(( 7 % 3 ))
printf '%.3f %e\\n' 3.14159 12345.678
x=0; for i in {1..2000}; do x=$((x + i*i)); done; echo $x
zmodload zsh/datetime; [[ $EPOCHSECONDS -gt 1000 ]] && echo epoch ok
cat <<< herestring | tr a-z A-Z
echo ${#${(f)"$(<in.txt)"}}
exit 7
"""

MKSH = """
i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done; echo $i
typeset -i16 h=255; echo $h
set -A arr 1 2 3; echo ${#arr[*]}
x=$(echo sub); echo $x
sleep 0.05 & wait $!; echo $?
while read l; do echo "<$l>"; done < in.txt
trap 'echo trapped' USR1; kill -USR1 $$
kill -TERM $$; echo not reached
"""

SHFMT_INPUT = "if [ $a ];then echo  x;fi\nf(){ for i in 1 2;do echo $i;done; }\n"

# (program in tests/guest/ext, arguments)
CASES = [
    ("zsh-static", ["-c", ZSH]),
    ("zsh-static", ["-c", "print -P '%n' | wc -c; ls /nonexistent; echo status $?"]),
    ("mksh-musl", ["-c", MKSH]),
    ("mksh-diet", ["-c", MKSH]),
    ("mksh-klibc", ["-c", "echo hi $((6*7)); x=$(echo sub); echo $x; exit 3"]),
    ("shfmt", ["--version"]),
    ("shfmt", ["-i", "2", "in.sh"]),
    ("shfmt", ["-d", "in.sh"]),
    ("shfmt", ["-i", "4", "-ci", str(ROOT / "tests" / "guest" / "build.sh")]),
]


def _run(prefix: list[str], prog: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(prefix + [str(EXT / prog), *args], input=b"stdin line\nsecond\n",
                          capture_output=True, cwd=cwd, env=env, timeout=300)


@pytest.mark.parametrize("prog,args", CASES, ids=[f"{p}-{i}" for i, (p, _) in enumerate(CASES)])
def test_realworld_matches_qemu(prog, args, tmp_path):
    if not (EXT / prog).exists():
        pytest.skip(f"run tests/guest/get_realworld.sh to fetch {prog}")
    (tmp_path / "in.txt").write_text("b 2\na 1\nc 3\n")
    (tmp_path / "in.sh").write_text(SHFMT_INPUT)
    ref = _run([QEMU], prog, args, tmp_path)
    res = _run([sys.executable, "-m", "tcgpy", "run"], prog, args, tmp_path)
    assert (res.stdout, res.stderr, res.returncode) == (ref.stdout, ref.stderr, ref.returncode)
    assert ref.stdout, "the reference printed nothing: the case tests nothing"
