"""Blocks in and out of the persistent translation cache (tcgpy/pcache.py).

*Saving*: when a program exits, the blocks it ran (compiled or interpreted
by the cold tier) are grouped by the guest page they start on, translated
again from guest memory and compiled as first-tier code, one module per
page, into **relocatable** object code: every address that differs from run
to run (env, the jump slots and counters, helpers, access functions, exit
stubs) is a symbol (runtime.Runtime.ref), so the code does not depend on where
this run put tcgpy's own structures.  Guest addresses are constants in it:
the page's key holds the address it was translated at, and tcgpy lays out a
program the same way every run (no address-space randomisation: the loader,
mmap's placement and brk are deterministic for the same program and inputs),
so a static-PIE or a shared library mapped elsewhere is just another key.

*Loading*: a miss in the block cache looks up the page of the missed pc (by
its content) before translating anything; a hit installs all the page's
blocks at once (backends/llvm/objload.py relocates the object: no LLVM at
all) and chains them as if compiled in this run.  A block running onto a
second page records that page's hash and is installed only where it still
matches.  Hot loops (tbcache.promote) are kept the same way, keyed by their
blocks and the content of their pages.

The work of saving (about a millisecond of LLVM per block) is done after the
guest has exited, in a detached process (``save_in_background``), so no run
waits for it; ``TCGPY_CACHE_SYNC=1`` saves before exiting instead.
"""
from __future__ import annotations

import itertools
import os
import re
import struct
import sys
import time

from .backends.llvm import jit
from .backends.llvm.runtime import runtime_symbol
from .cpustate import PAGE_MASK, PAGE_SIZE
from .pcache import blake2b
from .record import replace as replace_record
from .softmmu.memory import PERM_X
from .translator import MAX_BLOCK_INSNS

BATCH = 64              # blocks per function (lower_batch), as the first tier's MAX_BATCH
_TAG = re.compile(r"[0-9a-f]{16}\Z")


def page_bytes(aspace, page: int) -> bytes | None:
    """The content of executable guest page ``page`` (None: not executable)."""
    r = aspace.find(page)
    if r is None or r.is_mmio or not r.perms & PERM_X or page + PAGE_SIZE > r.end:
        return None
    import ctypes
    return ctypes.string_at(r.host + (page - r.start), PAGE_SIZE)


def content_hash(data: bytes) -> str:
    return blake2b(data, digest_size=16).hexdigest()


def namespace_parts(arch: str, tbi: bool, icount: bool, passes: list[str] | None,
                    cpu: str = "", one_insn_per_tb: bool = False) -> dict:
    """Everything translated code depends on besides the guest's bytes (the
    CPU model decides which words translate at all; one_insn_per_tb the
    block boundaries)."""
    from . import __version__
    from .ir.helpers import HELPERS
    from .pcache import source_digest
    return {"tcgpy": __version__, "source": source_digest(), "arch": arch, "tbi": tbi,
            "icount": icount, "passes": passes, "target": jit.target_description(), "page": PAGE_SIZE,
            "cpu": cpu, "one_insn_per_tb": one_insn_per_tb, "format": 2,
            # helper ids are registration order, and code calls them by id
            "helpers": [h.name for h in HELPERS]}


# -- loading ----------------------------------------------------------------------------

def _valid_meta(meta: dict, page: int | None) -> bool:
    """The entry's facts are what persist.py writes (``page``: the page its
    blocks start on, or None for a hot loop's): every number that indexes
    something here is an int in range.  (Plain loops: this runs for every
    block a warm run loads.)"""
    blocks, nslots, nctr = meta.get("blocks"), meta.get("nslots"), meta.get("nctr")
    if not (isinstance(meta.get("tag"), str) and _TAG.match(meta["tag"]) and type(blocks) is list
            and isinstance(meta.get("imports"), dict) and meta.get("page") == page
            and type(nslots) is int and type(nctr) is int and 0 <= nslots < 1 << 16 and 0 <= nctr < 1 << 16):
        return False
    for b in blocks:
        if type(b) is not list or len(b) != 7:
            return False
        pc, size, n, fn, slots, ctrs, deps = b
        if (type(pc) is not int or type(size) is not int or type(n) is not int or type(fn) is not str
                or type(slots) is not list or type(ctrs) is not list or type(deps) is not list
                or not 0 < size <= 1 << 16 or not 0 < n <= MAX_BLOCK_INSNS or not 0 <= pc < 1 << 64
                or page is not None and pc & PAGE_MASK != page):
            return False
        for sl in slots:
            if type(sl) is not list or len(sl) != 2:
                return False
            k, target = sl
            if type(k) is not int or type(target) is not int or not 0 <= k < nslots or not 0 <= target < 1 << 64:
                return False
        for c in ctrs:
            if type(c) is not int or not 0 <= c < nctr:
                return False
        for d in deps:
            if type(d) is not list or len(d) != 2 or type(d[0]) is not int or type(d[1]) is not str:
                return False
    return True


def load_page(cache, pc: int, stops, again: bool = False):
    """Install the cached blocks of ``pc``'s page, if the persistent cache
    has them for its current content; returns the TB at ``pc`` or None.
    ``again``: a page that missed before (counted then)."""
    from .tbcache import TB
    page = pc & PAGE_MASK
    cache.pcache_tried.add(page)
    data = page_bytes(cache.aspace, page)
    if data is None:
        return None
    t0 = time.perf_counter()
    pcache = cache.pcache
    key = pcache.page_key(page, data)
    entry = pcache.read(key)
    stats = cache.stats
    if entry is not None:
        stats.pcache_bytes += entry.size
    if entry is None:
        stats.pcache_misses += not again
        cache.note_miss_while_written(page)
        stats.time_pcache_load += time.perf_counter() - t0
        return None
    meta = entry.meta
    if not _valid_meta(meta, page) or meta["tag"] in cache.code.loaded_tags:
        stats.pcache_misses += 1
        return None
    tag = meta["tag"]
    blocks = meta["blocks"]
    if cache.generation_blocks + len(blocks) >= cache.max_blocks:
        return None                   # the next compile flushes; then there is room
    symbols = _symbols(cache, meta)
    if symbols is None:
        stats.pcache_misses += 1
        return None
    base_slot, base_ctr = cache.pcache_slot_base, cache.pcache_ctr_base
    fns = sorted({b[3] for b in blocks})
    try:
        addrs, elapsed = cache.code.load_object(entry.obj, tag, symbols, fns)
    except ValueError as e:         # an object the loader refused: a miss
        pcache._note(f"ignoring {key[:12]}: {e}")
        stats.pcache_misses += 1
        return None
    cache.stats.modules_loaded += 1
    hashes = {page: content_hash(data)}
    found = None
    installed = set()
    tbs = []
    # (runs for every block a warm run loads: the common cases -- no stop
    # addresses, no second page, no counter -- cost nothing extra)
    registered = cache.blocks
    one_page = (page,)
    for pc_b, size, n, fn, slots, ctrs, deps in blocks:
        fn_addr = addrs.get(fn)
        if not fn_addr or pc_b in registered:
            continue
        if stops and any(pc_b <= s < pc_b + size for s in stops):
            continue                 # run(until=) or a breakpoint stops there: not chained into
        pages = one_page
        if deps:
            ok = True
            for dep_page, h in deps:
                if dep_page not in hashes:
                    d = page_bytes(cache.aspace, dep_page)
                    hashes[dep_page] = None if d is None else content_hash(d)
                ok = ok and hashes[dep_page] == h
            if not ok:
                continue
            pages = tuple(sorted({page, *(d for d, _ in deps)}))
        tb = TB(pc_b, size, n, (), fn_addr, [(base_slot + k, target) for k, target in slots], pages,
                counters=[base_ctr + c for c in ctrs] if ctrs else [])
        tbs.append(tb)
        installed.add(pc_b)
        if pc_b == pc:
            found = tb
    cache.install_loaded(tbs)
    cache.pcache_pages[page] = (key, installed)
    stats.pcache_hits += 1
    stats.pcache_blocks += len(installed)
    stats.time_pcache_load += time.perf_counter() - t0
    return found


# -- hot loops -----------------------------------------------------------------------------
# A loop that turns hot is compiled optimised (tbcache.promote).  Its entry
# is keyed by the loop (header, each block's pc and instruction count) and
# the content of every page its blocks lie on: the same loop of the same
# code finds it in the next run, which then skips LLVM's optimiser and
# code generator for it too.

def _page_hash(cache, page: int) -> str | None:
    h = cache.page_hashes.get(page, False)
    if h is False:
        data = page_bytes(cache.aspace, page)
        h = cache.page_hashes[page] = None if data is None else content_hash(data)
    return h


def hot_key(cache, header: int, region, fresh: bool = False) -> str | None:
    """The key of hot loop ``region`` ((pc, instructions, size) of each
    block) entered at ``header``, or None; ``fresh`` hashes the pages as
    they are now instead of taking the hashes kept since the block cache
    last saw them change."""
    from .tbcache import HOT_REGIONS
    h = blake2b(cache.pcache.key + b"hot\0", digest_size=20)
    h.update(struct.pack("<Q?", header, HOT_REGIONS))
    pages = set()
    for pc, n, size in region:
        h.update(struct.pack("<QI", pc, n))
        pages.update(_pages_of(pc, size))
    for p in sorted(pages):
        if fresh:
            data = page_bytes(cache.aspace, p)
            ph = None if data is None else content_hash(data)
        else:
            ph = _page_hash(cache, p)
        if ph is None:
            return None
        h.update(struct.pack("<Q", p) + bytes.fromhex(ph))
    return h.hexdigest()


def _choice_key(cache, header: int, src_pc: int) -> str | None:
    """The key of the region chosen for the loop closed by the edge from
    the block at ``src_pc`` to ``header`` (keyed by the content of both pages)."""
    from .tbcache import HOT_REGIONS
    h = blake2b(cache.pcache.key + b"choice\0", digest_size=20)
    h.update(struct.pack("<QQ?", header, src_pc, HOT_REGIONS))
    for p in sorted({header & PAGE_MASK, src_pc & PAGE_MASK}):
        ph = _page_hash(cache, p)
        if ph is None:
            return None
        h.update(bytes.fromhex(ph))
    return h.hexdigest()


def chosen_region(cache, header: int, src_pc: int):
    """The TBs of the region an earlier run chose for this loop, when every
    one of them is registered here with the same instruction count (the
    hot loop's own key then checks every page's content), else None.
    Blocks on pages this run has not entered yet come from the persistent
    cache: else a region reaching into such a page was chosen anew, from
    what was here, and compiled again in every run."""
    from .tbcache import HOT_REGION_MAX
    key = _choice_key(cache, header, src_pc)
    entry = cache.pcache.read(key, count=False) if key else None
    if entry is None:
        return None
    pcs = entry.meta.get("region")
    if entry.meta.get("choice") is not True or type(pcs) is not list or not 0 < len(pcs) <= HOT_REGION_MAX + 2:
        return None
    region = []
    for item in pcs:
        if type(item) is not list or len(item) != 2:
            return None
        tb = cache.blocks.get(item[0])
        if tb is None and cache.may_load(item[0]):
            tb = load_page(cache, item[0], ())
        if tb is None or not tb.valid or tb.n_insns != item[1]:
            return None
        region.append(tb)
    return region


def _save_choices(cache) -> int:
    written = 0
    for (header, src_pc), pcs in list(cache.hot_choices.items()):
        key = _choice_key(cache, header, src_pc)
        if key and cache.pcache.read(key, count=False) is None:
            written += cache.pcache.write(key, {"choice": True, "region": [list(p) for p in pcs]}, b"")
    return written


def _pages_of(pc: int, size: int) -> tuple[int, ...]:
    return tuple(sorted({pc & PAGE_MASK, (pc + max(size, 1) - 1) & PAGE_MASK}))


def load_hot(cache, key: str):
    """The TBs (unregistered, in tbcache.lower_hot's order) of a cached hot
    loop, or None."""
    from .tbcache import TB, mark_region
    entry = cache.pcache.read(key, count=False)
    if entry is None:
        return None
    meta = entry.meta
    if not (meta.get("hot") is True and type(meta.get("region")) is bool and _valid_meta(meta, None)
            and meta["blocks"] and meta["tag"] not in cache.code.loaded_tags):
        return None
    tag = meta["tag"]
    symbols = _symbols(cache, meta)
    if symbols is None:
        return None
    try:
        addrs, _ = cache.code.load_object(entry.obj, tag, symbols, sorted({b[3] for b in meta["blocks"]}))
    except ValueError:
        return None
    base_slot, base_ctr = cache.pcache_slot_base, cache.pcache_ctr_base
    tbs = []
    for pc, size, n, fn, slots, ctrs, _ in meta["blocks"]:
        if not addrs.get(fn):
            return None
        tbs.append(TB(pc, size, n, (), addrs[fn], [(base_slot + k, t) for k, t in slots],
                      _pages_of(pc, size), counters=[base_ctr + c for c in ctrs], hot=True))
        for idx in tbs[-1].counters:
            cache.counter_owner[idx] = tbs[-1]
    if meta["region"]:
        mark_region(tbs)
        cache.stats.hot_regions_loaded += 1
    cache.stats.modules_loaded += 1
    cache.generation_blocks += len(tbs)
    return tbs


def _symbols(cache, meta: dict) -> dict[str, int] | None:
    """Addresses for an entry's imports (its own slots and counters taken
    here: their bases are left in cache.pcache_slot_base/_ctr_base)."""
    tag = meta["tag"]
    own = (f"tcgpy_slots_{tag}", f"tcgpy_ctr_{tag}")
    cache.native()
    symbols = {}
    for sym, extra in meta["imports"].items():
        addr = 1 if sym in own else runtime_symbol(cache.rt, sym, extra)
        if not addr:
            return None
        symbols[sym] = addr
    base_slot = cache.alloc_slot_range(meta["nslots"])
    base_ctr = cache.alloc_counter_range(meta["nctr"])
    if base_slot is None or base_ctr is None:
        return None
    cache.pcache_slot_base, cache.pcache_ctr_base = base_slot, base_ctr
    symbols[own[0]] = cache.slot_address(base_slot)
    symbols[own[1]] = cache.counter_address(base_ctr)
    return symbols


def _save_hot(cache, key: str, header: int, pcs: list[tuple[int, int]], keyed) -> bool:
    from .backends.llvm.lower_region import optimize as optimize_region
    from .tbcache import lower_hot
    # The key was taken when the loop turned hot; code that changed since
    # (self-modifying, or a page mapped anew) must not be saved under it.
    if hot_key(cache, header, keyed, fresh=True) != key:
        return False
    blocks = [cache._translate(pc, n, (), plain=True) for pc, n in pcs]
    tag = os.urandom(8).hex()          # names the module's own symbols, unique in an engine
    rt = replace_record(cache.rt, tag=tag, imports={})
    next_slot, next_ctr, names = itertools.count(), itertools.count(), itertools.count()
    text, order, lowered, region = lower_hot(blocks, header, rt, lambda: f"tb_{tag}_{next(names)}",
                                             next_slot.__next__, next_ctr.__next__)
    text = rt.import_decls() + text
    if region:
        text = optimize_region(text)
    obj = jit.emit_object(text, hot=True)
    metas = []
    for block, lb in zip(order, lowered):
        metas.append([block.pc, block.guest_size, block.guest_insns, lb.name,
                      [list(sl) for sl in lb.slots], list(lb.counters), []])
    meta = {"hot": True, "region": region, "tag": tag, "nslots": next(next_slot), "nctr": next(next_ctr),
            "imports": rt.imports, "blocks": metas, "page": None}
    return cache.pcache.write(key, meta, obj)


# -- saving -------------------------------------------------------------------------------

def _block_pcs(cache) -> dict[int, set[int]]:
    """The pcs of the blocks this run has (compiled or cold), by page."""
    by_page: dict[int, set[int]] = {}
    for pc in itertools.chain(cache.blocks, cache.cold):
        by_page.setdefault(pc & PAGE_MASK, set()).add(pc)
    return by_page


def save(cache, deadline: float | None = None) -> int:
    """Write this run's blocks to the persistent cache, page by page, where
    the cache lacks any of them; returns the number of pages written."""
    pcache = cache.pcache
    written = 0
    cache.native()              # (lowering copies cache.rt: its addresses first)
    for key, (header, pcs, keyed) in list(cache.hot_records.items()):
        if pcache.read(key, count=False) is None:
            try:
                written += _save_hot(cache, key, header, pcs, keyed)
            except Exception as e:        # this loop is not cached
                pcache._note(f"hot loop at {header:#x} not saved: {type(e).__name__}: {e}")
    written += _save_choices(cache)
    # Pages with compiled blocks first: the blocks that ran most, which a
    # run of the same program started meanwhile would compile first (it
    # looks for such pages again: TBCache.note_miss_while_written).
    compiled = {pc & PAGE_MASK for pc in cache.blocks}
    for page, pcs in sorted(_block_pcs(cache).items(), key=lambda item: (item[0] not in compiled, item[0])):
        if deadline is not None and time.monotonic() > deadline:
            break
        data = page_bytes(cache.aspace, page)
        if data is None:
            continue
        key = pcache.page_key(page, data)
        loaded = cache.pcache_pages.get(page)
        if loaded is not None and loaded[0] == key and pcs <= loaded[1]:
            continue
        old = pcache.read(key)
        if old is not None and _valid_meta(old.meta, page):
            have = {b[0] for b in old.meta["blocks"]}
            if pcs <= have:
                continue
            pcs = pcs | have
        try:
            if _save_page(cache, page, data, key, sorted(pcs)):
                written += 1
        except Exception as e:        # a translation or LLVM failure: this page is not cached
            pcache._note(f"page {page:#x} not saved: {type(e).__name__}: {e}")
    return written


def _save_page(cache, page: int, data: bytes, key: str, pcs: list[int]) -> bool:
    from .backends.llvm.lower import lower_batch, lower_block, module_text
    from .tbcache import _pages
    from .translator import FetchFault
    blocks, deps = [], []
    for pc in pcs:
        try:
            block = cache._translate(pc, MAX_BLOCK_INSNS, (), plain=True)
        except FetchFault:
            continue
        dep = []
        for p in _pages(block):
            if p != page:
                d = page_bytes(cache.aspace, p)
                if d is None:
                    break
                dep.append([p, content_hash(d)])
        else:
            blocks.append(block)
            deps.append(dep)
    if not blocks:
        return False
    tag = os.urandom(8).hex()          # names the module's own symbols, unique in an engine
    rt = replace_record(cache.rt, tag=tag, imports={})
    next_slot, next_ctr = itertools.count(), itertools.count()
    lowered, metas = [], []
    for i in range(0, len(blocks), BATCH):
        group = blocks[i:i + BATCH]
        name = f"tb_{tag}_{i // BATCH}"
        if len(group) > 1:
            fn = lower_batch(group, rt, name, next_slot.__next__, next_ctr.__next__)
            parts = fn.parts
        else:
            fn = lower_block(group[0], rt, name, next_slot.__next__, next_ctr.__next__)
            parts = [fn]
        lowered.append(fn)
        for block, part, dep in zip(group, parts, deps[i:i + BATCH]):
            metas.append([block.pc, block.guest_size, block.guest_insns, name,
                          [list(s) for s in part.slots], list(part.counters), dep])
    obj = jit.emit_object(module_text(lowered, rt.import_decls()))
    meta = {"page": page, "tag": tag, "nslots": next(next_slot), "nctr": next(next_ctr),
            "imports": rt.imports, "blocks": metas}
    return cache.pcache.write(key, meta, obj)


def made_anything(cache) -> bool:
    """Whether this run has anything the persistent cache may lack: a block
    it translated (compiled or cold), a loop it made hot or the region it
    chose for one, or background work not taken yet (access functions
    among it).  False when all its code came from the cache."""
    s, bg = cache.stats, cache.background
    return bool(s.blocks_translated or s.cold_blocks or s.modules_compiled or cache.hot_records
                or cache.hot_choices or bg is not None and (bg.pending or bg.queue or bg.done))


def save_in_background(emu, log_figures: bool = True) -> None:
    """Save ``emu``'s blocks in a detached process that queues behind
    another process writing to the same cache, or gives up when the queue is
    full.  Returns at once in the
    caller, which must be about to exit: the child is then reparented, and
    no guest can see it as a child of its own.  (A double fork would not
    need that, but waiting for the middle process, a copy of all of tcgpy,
    to exit costs tens of milliseconds.)"""
    cache = emu.cache
    if cache.pcache is None:
        return
    if not made_anything(cache):
        # a fork costs the parent 10-30 ms with tcgpy and the guest mapped:
        # a warm run's biggest item after its imports, for a save that
        # would write nothing
        if log_figures and cache.pcache.usable():
            from .pcache import log_run
            s = cache.stats
            log_run(str(cache.pcache.root), s.pcache_hits, s.pcache_misses, cache.pcache.bytes_loaded, 0)
        return
    try:
        pid = os.fork()
    except OSError:
        return
    if pid:
        return
    try:
        os.setsid()
        # The writer lock (or a place in its queue) is taken before our
        # caller's descriptors close: whoever waits for those to close and
        # then for the cache's writers (a test, ``tcgpy cache wait``) waits
        # for this save too.  With the queue full, this run's pages are left
        # to a later run (pcache.QUEUE_SLOTS says why the queue is short).
        lock = _writer_lock(cache.pcache, wait=False)
        slot = _queue_slot(cache.pcache) if lock is None else None
        held = lock or slot
        _detach_descriptors(keep=held.fd if held is not None else -1)
        try:
            os.nice(10)
        except OSError:
            pass
        if slot is not None:
            lock = _writer_lock(cache.pcache, wait=True)
            slot.release()
        save_now(emu, log_figures, lock=lock)
    except BaseException:
        pass
    os._exit(0)


def _queue_slot(pcache):
    from .pcache import queue_slot
    return queue_slot(str(pcache.root)) if pcache.usable() else None


def _writer_lock(pcache, wait: bool):
    from .pcache import WriterLock
    if not pcache.usable():
        return None
    lock = WriterLock(str(pcache.root))
    return lock if lock.acquire(wait=wait) else None


_TAKE = object()


def save_now(emu, log_figures: bool = True, lock=_TAKE) -> int:
    """Save ``emu``'s blocks under the cache's writer lock (``lock``: one
    held already, or None to save nothing; by default it is waited for);
    returns the pages written.  The run's figures go to runs.log either way."""
    from .pcache import cap_from_env, evict, log_run
    cache = emu.cache
    pcache = cache.pcache
    if pcache is None:
        return 0
    if lock is _TAKE:
        lock = _writer_lock(pcache, wait=True)
    written = 0
    if lock is not None:
        try:
            cache.keep_access_functions()
            written = save(cache)
            evict(str(pcache.root), cap_from_env())
        finally:
            lock.release()
    if log_figures and pcache.usable():
        s = cache.stats
        log_run(str(pcache.root), s.pcache_hits, s.pcache_misses, pcache.bytes_loaded, written)
    return written


def _detach_descriptors(keep: int = -1) -> None:
    """Close everything the guest or our caller holds (a pipe a test reads
    to its end must not stay open) but ``keep``, and put /dev/null on 0-2."""
    try:
        max_fd = os.sysconf("SC_OPEN_MAX")
    except (ValueError, OSError):
        max_fd = 1024
    max_fd = max(3, min(max_fd, 1 << 20))
    if keep >= 0:
        os.closerange(0, keep)
        os.closerange(keep + 1, max_fd)
    else:
        os.closerange(0, max_fd)
    fd = os.open(os.devnull, os.O_RDWR)
    for i in range(3):
        if fd != i:
            os.dup2(fd, i)
    sys.stdout = sys.stderr = open(os.devnull, "w")
