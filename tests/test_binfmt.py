"""``tcgpy binfmt``: the registration's magic and mask, what install and
uninstall write and remove, and -- where this runs as root with binfmt_misc
mounted or mountable -- a real registration running a guest program by its
own path, always unregistered afterwards."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tcgpy import binfmt

ROOT = Path(__file__).resolve().parent.parent
FS_ARGS = ROOT / "tests" / "guest" / "bin" / "fs_args"

# qemu's scripts/qemu-binfmt-conf.sh, aarch64
QEMU_AARCH64_MAGIC = r"\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00"
QEMU_AARCH64_MASK = r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff"


def _tcgpy(*args, **kw):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "tcgpy", *args], capture_output=True, text=True, env=env,
                          timeout=120, **kw)


def test_aarch64_magic_and_mask_are_qemus():
    (t,) = binfmt.select(["aarch64"])
    line = binfmt.registration(t, "/x/launcher")
    name, kind, offset, magic, mask, interp, flags = line.split(":")[1:]
    assert (name, kind, offset, interp, flags) == ("tcgpy-aarch64", "M", "0", "/x/launcher", "P")
    assert (magic, mask) == (QEMU_AARCH64_MAGIC, QEMU_AARCH64_MASK)
    # and it matches the shipped guest programs, static and PIE
    for prog in ("fs_args", "fs_args_pie"):
        head = (ROOT / "tests" / "guest" / "bin" / prog).read_bytes()[:20]
        m, k = t.magic()
        assert bytes(a & b for a, b in zip(head, k)) == bytes(a & b for a, b in zip(m, k))


def test_unknown_target_is_one_line():
    r = _tcgpy("binfmt", "status", "--target", "vax")
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "unknown target(s) vax" in r.stderr


def test_install_and_uninstall_touch_exactly_their_files(tmp_path):
    # A stand-in mount point: the kernel's side (the entry appearing) is
    # checked for real below, where it can be.
    mount, launchers, conf = tmp_path / "mnt", tmp_path / "libexec", tmp_path / "binfmt.d"
    mount.mkdir()
    (mount / "register").write_text("")
    conf.mkdir()
    (conf / "other.conf").write_text("keep me\n")
    where = {"mount": str(mount), "launcher_dir": str(launchers), "conf_dir": str(conf)}
    targets = binfmt.select(None)
    done = binfmt.install(targets, persistent=True, **where)
    assert any("registered tcgpy-aarch64" in d for d in done)
    assert (mount / "register").read_text() == binfmt.registration(targets[-1], str(launchers / targets[-1].entry))
    launcher = launchers / "tcgpy-aarch64"
    assert os.access(launcher, os.X_OK) and launcher.read_text().startswith(f"#!{sys.executable} -I\n")
    assert binfmt.registration(targets[0], str(launchers / "tcgpy-aarch64")) in (conf / "tcgpy-aarch64.conf").read_text()
    binfmt.uninstall(targets, **where)
    assert sorted(p.name for p in conf.iterdir()) == ["other.conf"] and not any(launchers.iterdir())


def test_launcher_refuses_to_run_outside_binfmt(tmp_path):
    mount = tmp_path / "mnt"
    mount.mkdir()
    (mount / "register").write_text("")
    binfmt.install(binfmt.select(["aarch64"]), mount=str(mount), launcher_dir=str(tmp_path), conf_dir=str(tmp_path))
    r = subprocess.run([str(tmp_path / "tcgpy-aarch64")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "started by binfmt_misc" in r.stderr


@pytest.fixture
def binfmt_lock():
    """One real registration at a time: the kernel's table is shared by every
    test worker (and name tcgpy-aarch64 by both tests that register it)."""
    import fcntl
    with open(os.path.join(tempfile.gettempdir(), "tcgpy-binfmt-test.lock"), "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def _binfmt_usable() -> str | None:
    if os.geteuid() != 0:
        return "binfmt_misc registration needs root"
    try:
        binfmt.ensure_mounted()
    except binfmt.BinfmtError as e:
        return str(e)
    if os.path.exists(os.path.join(binfmt.MOUNT, "tcgpy-aarch64")):
        return "tcgpy-aarch64 is registered already (not touching a real installation)"
    return None


def test_registered_for_real_runs_a_guest_program_by_its_path(tmp_path, binfmt_lock):
    why = _binfmt_usable()
    if why:
        pytest.skip(why)
    launchers = tmp_path / "libexec"
    r = _tcgpy("binfmt", "install", "--target", "aarch64", "--launcher-dir", str(launchers))
    try:
        assert r.returncode == 0, r.stderr
        status = _tcgpy("binfmt", "status", "--target", "aarch64")
        assert f"registered, enabled, interpreter {launchers}/tcgpy-aarch64, flags P" in status.stdout
        # the kernel runs it: argv[0] as given, arguments as given
        direct = subprocess.run([str(FS_ARGS), "a", "b c"], capture_output=True, text=True, timeout=120,
                                env={**os.environ, "TCGPY_CACHE": "0"})
        ran = _tcgpy("run", "--no-cache", "-0", str(FS_ARGS), str(FS_ARGS), "a", "b c")
        assert direct.returncode == 0, direct.stderr
        assert direct.stdout == ran.stdout and f"argv[0]={FS_ARGS}\n" in direct.stdout
        # through a host shell's execve, relative path, argv[0] preserved
        sh = subprocess.run(["/bin/sh", "-c", "cd tests/guest/bin && ./fs_args x"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, env={**os.environ, "TCGPY_CACHE": "0"})
        assert sh.returncode == 0 and "argv[0]=./fs_args\nargv[1]=x\n" in sh.stdout, sh.stderr
    finally:
        r = _tcgpy("binfmt", "uninstall", "--target", "aarch64", "--launcher-dir", str(launchers))
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(os.path.join(binfmt.MOUNT, "tcgpy-aarch64"))
    assert not (launchers / "tcgpy-aarch64").exists()


def _python_paths() -> list[str]:
    """What this Python needs at the same paths inside a chroot: its
    installation and venv, tcgpy's checkout, the host's libraries."""
    paths = {sys.base_prefix, sys.prefix, str(ROOT), os.path.dirname(os.path.realpath(sys.executable))}
    paths |= {"/lib64", "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/proc", "/dev"}
    return sorted(p for p in paths if os.path.isdir(p))


def test_foreign_chroot_runs_its_programs(tmp_path, binfmt_lock):
    """The README's recipe: the chroot holds foreign (here: the shipped
    static) programs, and this Python and tcgpy bind-mounted at their own
    paths; the kernel runs /bin/* inside it through tcgpy."""
    why = _binfmt_usable()
    if why:
        pytest.skip(why)
    chroot = shutil.which("chroot") or shutil.which("chroot", path="/usr/sbin:/sbin")
    if chroot is None:
        pytest.skip("no chroot command")
    # Not under tmp_path: pytest deletes old tmp_paths with rmtree, which
    # must never meet a bind mount of the host's /usr (they are read-only
    # and unmounted below, and this directory is removed only once they are).
    base = Path(tempfile.mkdtemp(prefix="tcgpy-chroot-"))
    root, launchers = base / "root", base / "libexec"
    (root / "bin").mkdir(parents=True)
    (root / "tmp").mkdir()
    for prog in ("fs_args", "libc_hello"):
        (root / "bin" / prog).write_bytes((ROOT / "tests" / "guest" / "bin" / prog).read_bytes())
        (root / "bin" / prog).chmod(0o755)
    mounted = []
    r = _tcgpy("binfmt", "install", "--target", "aarch64", "--launcher-dir", str(launchers))
    try:
        assert r.returncode == 0, r.stderr
        for path in _python_paths() + [str(launchers)]:
            inside = str(root) + path
            os.makedirs(inside, exist_ok=True)
            m = subprocess.run(["mount", "--bind", path, inside], capture_output=True, text=True)
            if m.returncode != 0:
                pytest.skip(f"cannot bind-mount {path}: {m.stderr.strip()}")
            mounted.append(inside)
            ro = subprocess.run(["mount", "-o", "remount,bind,ro", inside], capture_output=True, text=True)
            if ro.returncode != 0:
                pytest.skip(f"cannot make the bind mount of {path} read-only: {ro.stderr.strip()}")
        env = {"PATH": "/bin", "TCGPY_CACHE": "0"}
        out = subprocess.run([chroot, str(root), "/bin/fs_args", "in", "chroot"], capture_output=True,
                             text=True, timeout=120, env=env)
        assert out.returncode == 0, out.stderr
        assert "argv[0]=/bin/fs_args\nargv[1]=in\nargv[2]=chroot\n" in out.stdout
        hello = subprocess.run([chroot, str(root), "/bin/libc_hello"], capture_output=True, text=True,
                               timeout=120, env=env)
        assert hello.returncode == 0 and hello.stdout.startswith("hello, world\n"), hello.stderr
    finally:
        for inside in reversed(mounted):
            subprocess.run(["umount", "-l", inside], capture_output=True)
        _tcgpy("binfmt", "uninstall", "--target", "aarch64", "--launcher-dir", str(launchers))
        if not any(os.path.ismount(m) for m in mounted):
            shutil.rmtree(base, ignore_errors=True)
    assert not any(os.path.ismount(m) for m in mounted), "bind mounts left in place"
    assert not os.path.exists(os.path.join(binfmt.MOUNT, "tcgpy-aarch64"))
