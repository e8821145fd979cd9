"""The persistent translation cache: compiled guest code on disk, shared by
every later run and every concurrent process (FEX-Emu's and Box64's code
caches are the precedent).

This module is the storage: one file per guest code page, named by a hash of
the cache's *namespace* (tcgpy's version and source, the target, the
translation options, what LLVM generated code for) and of the page (its
address and its 4 KiB of content).  A changed binary or library, another
tcgpy, other options or self-modified code give another name: a stale
translation is never found, only missed.  What a file holds (the page's
blocks as relocatable object code and the facts needed to install them) is
tcgpy/persist.py's business.

Nothing read back is trusted beyond its checksum (keyed by the namespace, so
a file renamed into another namespace fails too): a truncated, corrupted or
foreign file is a miss.  Writes go to a temporary file renamed into place,
so readers see a whole file or none; a full disk or a read-only directory
makes writes fail quietly (a miss for the next run).  At most one writer
process works on a cache directory at a time (writer.lock); up to
``QUEUE_SLOTS`` others wait for it (writer.queueN), and the rest leave their
pages to a later run.
"""
from __future__ import annotations

import fcntl
import marshal
import os
import struct
import time

from .record import record

try:
    from _blake2 import blake2b                 # hashlib's, without loading OpenSSL's _hashlib (2 ms)
except ImportError:                              # pragma: no cover (an interpreter without it)
    from hashlib import blake2b

MAGIC = b"TCGPYPC2"
HEADER = struct.Struct("<8sII32s")      # magic, metadata length, object length, checksum
MAX_META = 1 << 20
MAX_OBJECT = 64 << 20
DEFAULT_CAP = 1 << 30                   # bytes; least recently used files go first
RUNS_LOG_KEEP = 200                     # lines of runs.log (tcgpy cache stats' hit rates)


def default_dir() -> str:
    """``$TCGPY_CACHE_DIR``, else ``$XDG_CACHE_HOME/tcgpy``, else ``~/.cache/tcgpy``."""
    d = os.environ.get("TCGPY_CACHE_DIR")
    if d:
        return d
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "tcgpy")


def enabled_by_env() -> bool:
    """``TCGPY_CACHE=0`` turns the cache off for ``tcgpy run``."""
    return os.environ.get("TCGPY_CACHE", "1").strip().lower() not in ("0", "no", "off", "false")


_source_digest: str | None = None


def source_digest() -> str:
    """A digest of tcgpy's own source files (path, size, modification time
    to the nanosecond): any edit of the translator is another namespace,
    even without a version bump (a development tree).  Not their content:
    reading and hashing all of it cost every run 11 ms, stat-ing it 0.5."""
    global _source_digest
    if _source_digest is None:
        h = blake2b(digest_size=16)
        root = os.path.dirname(os.path.abspath(__file__))
        files = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            files += [os.path.join(dirpath, f) for f in filenames if f.endswith(".py")]
        for path in sorted(files):
            st = os.stat(path)
            h.update(f"{os.path.relpath(path, root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        _source_digest = h.hexdigest()
    return _source_digest


def namespace(parts: dict) -> str:
    """The namespace key of a set of translation options (values: strings,
    numbers, booleans, None and lists of them, whose repr is canonical; not
    json, which every run would import for this one call)."""
    return blake2b(repr(sorted(parts.items())).encode(), digest_size=16).hexdigest()


@record
class Entry:
    meta: dict
    obj: bytes
    size: int                 # bytes read


class PersistentCache:
    """A cache directory, seen through one namespace."""

    def __init__(self, root: str, ns: str, warn=None):
        self.root = os.path.abspath(root)      # the guest may chdir
        self.ns = ns
        self.dir = os.path.join(self.root, ns)
        self.key = bytes.fromhex(ns)
        self.warn = warn             # callable(str) for -d-style one-line warnings, or None
        self.hits = self.misses = self.bytes_loaded = 0
        self.writes = self.write_errors = 0
        self._trusted: bool | None = None

    def _note(self, msg: str) -> None:
        if self.warn is not None:
            self.warn(f"tcgpy: cache: {msg}")

    def usable(self) -> bool:
        """The directory is ours to trust: ours, and not writable by every
        user (who could plant code there)."""
        if self._trusted is None:
            try:
                st = os.stat(self.root)
                self._trusted = st.st_uid == os.getuid() and not st.st_mode & 0o002
                if not self._trusted:
                    self._note(f"{self.root} is writable by every user or not ours: not used")
            except OSError:
                self._trusted = True        # not made yet: a writer makes it with mode 0700
        return self._trusted

    # -- names ---------------------------------------------------------------------
    def page_key(self, page: int, data: bytes) -> str:
        h = blake2b(self.key, digest_size=20)
        h.update(page.to_bytes(8, "little"))
        h.update(data)
        return h.hexdigest()

    def path(self, key: str) -> str:
        return os.path.join(self.dir, key[:2], key[2:])

    def _checksum(self, key: str, meta: bytes, obj: bytes) -> bytes:
        h = blake2b(self.key + bytes.fromhex(key), digest_size=32)
        h.update(meta)
        h.update(obj)
        return h.digest()

    # -- runtime functions (jit.runtime_functions' store) -----------------------------
    def text_key(self, text: str) -> str:
        return blake2b(self.key + b"runtime\0" + text.encode(), digest_size=20).hexdigest()

    def get(self, text: str) -> bytes | None:
        e = self.read(self.text_key(text), count=False)
        return None if e is None or e.meta.get("runtime") is not True else e.obj

    def put(self, text: str, obj: bytes) -> None:
        self.write(self.text_key(text), {"runtime": True}, obj)

    # -- reading -------------------------------------------------------------------
    def read(self, key: str, count: bool = True) -> Entry | None:
        """The entry stored under ``key``, or None (absent, or not whole and
        intact: anything else is a miss too)."""
        if not self.usable():
            return None
        try:
            with open(self.path(key), "rb") as f:
                head = f.read(HEADER.size)
                if len(head) != HEADER.size:
                    raise ValueError("short header")
                magic, n_meta, n_obj, digest = HEADER.unpack(head)
                if magic != MAGIC or n_meta > MAX_META or n_obj > MAX_OBJECT:
                    raise ValueError("bad header")
                body = f.read(n_meta + n_obj + 1)
            if len(body) != n_meta + n_obj:
                raise ValueError("wrong length")
            meta_b, obj = body[:n_meta], body[n_meta:]
            if self._checksum(key, meta_b, obj) != digest:
                raise ValueError("checksum mismatch")
            # marshal, not json: a warm python3 start-up reads 18 MB of
            # entries, and json spent 0.17 s on their metadata.  Only data
            # that passed the keyed checksum gets here (what tcgpy wrote).
            meta = marshal.loads(meta_b)
            if not isinstance(meta, dict) or meta.get("key") != key:
                raise ValueError("not this entry")
        except FileNotFoundError:
            self.misses += count
            return None
        except (OSError, ValueError, EOFError, TypeError, UnicodeDecodeError) as e:
            self.misses += count
            self._note(f"ignoring {key[:12]}: {e}")
            return None
        self.hits += count
        self.bytes_loaded += HEADER.size + len(body)
        try:
            os.utime(self.path(key))          # least recently used goes first
        except OSError:
            pass
        return Entry(meta, obj, HEADER.size + len(body))

    # -- writing -------------------------------------------------------------------
    def write(self, key: str, meta: dict, obj: bytes) -> bool:
        """Store an entry atomically (False when it could not be written)."""
        meta = dict(meta, key=key)
        meta_b = marshal.dumps(meta, 4)
        data = HEADER.pack(MAGIC, len(meta_b), len(obj), self._checksum(key, meta_b, obj)) + meta_b + obj
        path = self.path(key)
        parent, name = os.path.split(path)
        tmp = os.path.join(parent, f".{name}.{os.getpid()}.tmp")
        try:
            if not os.path.isdir(parent):
                for d in (self.root, self.dir, parent):     # each 0700, whatever the umask
                    if d is self.root:
                        os.makedirs(d, mode=0o700, exist_ok=True)
                    else:
                        try:
                            os.mkdir(d, 0o700)
                        except FileExistsError:
                            pass
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except OSError as e:
            self.write_errors += 1
            self._note(f"cannot write {path}: {e.strerror}")
            try:
                os.unlink(tmp)
            except OSError:
                pass
            return False
        self.writes += 1
        return True


# -- the directory as a whole (tcgpy cache, the writer) ----------------------------------

# Savers that may queue behind the writer.  A short process's saver that
# found the writer busy used to give up, so of ``git init; git add; git
# commit`` only the first process's pages were kept; an unbounded queue would
# leave a copy of tcgpy waiting behind each process of a 200-process script.
QUEUE_SLOTS = 4


class WriterLock:
    """Held by the one process writing to a cache directory (or, named
    ``writer.queueN``, by a saver waiting for it); ``acquire`` does not wait
    unless asked to."""

    def __init__(self, root: str, name: str = "writer.lock"):
        self.path = os.path.join(root, name)
        self.fd = -1

    def acquire(self, wait: bool = False) -> bool:
        try:
            os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            return False
        # above 0-2, which a detached saver points at /dev/null
        self.fd = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
        os.close(fd)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            return True
        except OSError:           # held by another writer (or no locks here)
            os.close(self.fd)
            self.fd = -1
            return False

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def queue_slot(root: str) -> WriterLock | None:
    """A free place in the writer's queue, held until its owner holds the
    writer lock; None when every place is taken."""
    for i in range(QUEUE_SLOTS):
        slot = WriterLock(root, f"writer.queue{i}")
        if slot.acquire(wait=False):
            return slot
    return None


def writer_busy(root: str) -> bool:
    """Whether another process is writing to the cache at ``root`` now."""
    return not _free(WriterLock(root))


def _free(lock: WriterLock) -> bool:
    if lock.acquire(wait=False):
        lock.release()
        return True
    return False


def wait_for_writers(root: str, timeout: float | None = None) -> bool:
    """Block until no process writes to the cache at ``root`` or waits to
    (True), or ``timeout`` seconds pass (False)."""
    if not os.path.isdir(root):
        return True
    end = None if timeout is None else time.monotonic() + timeout
    queue = [WriterLock(root, f"writer.queue{i}") for i in range(QUEUE_SLOTS)]
    writer = WriterLock(root)
    while True:
        # The queue first: a waiting saver leaves its place only once it
        # holds the writer lock, so an empty queue then a free writer lock
        # means every saver that was waiting has finished.
        if all(_free(q) for q in queue) and _free(writer):
            return True
        if end is not None and time.monotonic() >= end:
            return False
        time.sleep(0.02)


def _entries(root: str):
    """(path, size, mtime) of every entry file under ``root``."""
    for ns in os.scandir(root):
        if not ns.is_dir(follow_symlinks=False):
            continue
        for sub in os.scandir(ns.path):
            if not sub.is_dir(follow_symlinks=False):
                continue
            for f in os.scandir(sub.path):
                if f.is_file(follow_symlinks=False):
                    try:
                        st = f.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    yield f.path, st.st_size, st.st_mtime


def evict(root: str, cap: int = DEFAULT_CAP) -> int:
    """Delete least recently used entries until the cache holds at most
    ``cap`` bytes (to 90% of it, so that eviction is not every run's work);
    returns the bytes freed."""
    try:
        files = list(_entries(root))
    except OSError:
        return 0
    total = sum(size for _, size, _ in files)
    if total <= cap:
        return 0
    freed = 0
    for path, size, _ in sorted(files, key=lambda e: e[2]):
        if total - freed <= cap * 9 // 10:
            break
        try:
            os.unlink(path)
            freed += size
        except OSError:
            pass
    return freed


def cap_from_env() -> int:
    """``TCGPY_CACHE_SIZE`` (bytes, or with a K/M/G suffix), else 1 GiB."""
    v = os.environ.get("TCGPY_CACHE_SIZE", "").strip().upper()
    if not v:
        return DEFAULT_CAP
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(v[-1], 1)
    try:
        return max(0, int(v.rstrip("KMG")) * mult)
    except ValueError:
        return DEFAULT_CAP


def log_run(root: str, hits: int, misses: int, loaded: int, written: int) -> None:
    """Append one run's figures to runs.log (kept to its last lines)."""
    path = os.path.join(root, "runs.log")
    line = f"{time.time():.0f} {hits} {misses} {loaded} {written}\n"
    try:
        with open(path, "a") as f:
            f.write(line)
        if os.path.getsize(path) > 64 * RUNS_LOG_KEEP:
            with open(path) as f:
                lines = f.readlines()[-RUNS_LOG_KEEP:]
            tmp = f"{path}.{os.getpid()}.tmp"
            with open(tmp, "w") as f:
                f.writelines(lines)
            os.replace(tmp, path)
    except OSError:
        pass


def stats(root: str) -> dict:
    """Entries, bytes and namespaces of the cache at ``root``, and the hit
    rate of the runs logged last."""
    out = {"dir": root, "entries": 0, "bytes": 0, "namespaces": 0, "runs": 0,
           "hits": 0, "misses": 0, "bytes_loaded": 0}
    if not os.path.isdir(root):
        return out
    try:
        out["namespaces"] = sum(1 for e in os.scandir(root) if e.is_dir(follow_symlinks=False))
        for _, size, _ in _entries(root):
            out["entries"] += 1
            out["bytes"] += size
    except OSError:
        pass
    try:
        with open(os.path.join(root, "runs.log")) as f:
            for line in f.readlines()[-RUNS_LOG_KEEP:]:
                parts = line.split()
                if len(parts) != 5 or not all(p.isdigit() for p in parts):
                    continue
                out["runs"] += 1
                out["hits"] += int(parts[1])
                out["misses"] += int(parts[2])
                out["bytes_loaded"] += int(parts[3])
    except OSError:
        pass
    looked = out["hits"] + out["misses"]
    out["hit_rate"] = out["hits"] / looked if looked else None
    return out


def clear(root: str) -> int:
    """Delete every entry (and the run log); returns the number deleted."""
    n = 0
    if not os.path.isdir(root):
        return 0
    for path, _, _ in list(_entries(root)):
        try:
            os.unlink(path)
            n += 1
        except OSError:
            pass
    for dirpath, dirnames, _ in os.walk(root, topdown=False):
        for d in dirnames:
            try:
                os.rmdir(os.path.join(dirpath, d))
            except OSError:
                pass
    try:
        os.unlink(os.path.join(root, "runs.log"))
    except OSError:
        pass
    return n
