"""One TLB check for a run of accesses off the same base register.

Hot code spends most of a guest load or store on the TLB: index, tag load,
compare, addend load (about nine host instructions; qemu-user's direct
mapping needs one).  Compiled code addresses its stack frame and its
structures as ``base + constant`` many times over between two writes of the
base: ``stp x29, x30, [sp, #-0xa0]!`` and the ``ldr``/``str`` of the locals
that follow, a hash's state words off one pointer.  Such accesses form a
*group*: when the first of them runs, one check covers the bytes of all of
them -- they lie in one page and the TLB grants it (for reading, writing or
both, as the group needs) -- and each access then goes straight to the host
pointer, one host instruction.  If the check fails (the span crosses a page,
or the page is not in the TLB, or is a code page with its write tag clear),
each access takes its own full path, so faults stay where and as they were.

The check may run before accesses that come later in the block because
nothing between them can change what it found: guest memory mappings change
only in syscalls and hooks (both reset the grouping here) and a TLB eviction
by another access's refill leaves the page mapped where it was.  Groups end
at labels, which other paths may join.  One thing could break that: a
library user's MMIO callback (Emulator.mmio_map) that unmaps or
re-protects memory while hot code runs; the rest of that block's grouped
accesses would still use what their check found.  A Linux guest cannot do
it: its mappings change only in syscalls.
"""
from __future__ import annotations

from ...cpustate import PAGE_MASK, PAGE_SIZE
from ...ir.core import Block, Insn
from ...ir.ops import F, MemOp, Op
from .access import host_ptr, tag_hit, tlb_entry, untag
from .runtime import _c

# A group's accesses span at most this many bytes: a wider span crosses a
# page more often, and then the whole group takes the long way.
MAX_SPAN = 512
# Ops that may run code able to change guest mappings (a hook's callback,
# a helper): the grouping starts again after them.
_BARRIER_FLAGS = F.CALL


class Member:
    """An access of a group: ``k`` bytes past the group's first byte."""
    __slots__ = ("group", "k", "first")

    def __init__(self, group: "Group", k: int, first: bool):
        self.group = group
        self.k = k
        self.first = first


class Group:
    """Accesses at base + constant, for one value of ``base``: what the check
    covers (``lo``: the lowest offset, ``span`` bytes) and needs (read,
    write).  The check is computed from the first access's own address
    (``anchor``, ``base`` + ``anchor_k``): the base itself may have been
    written since (``add x0, sp, #-16; mov sp, x0``).  ``ok`` and ``host``
    are the check's i1 and the host pointer of byte ``lo``, once lowered."""
    __slots__ = ("tbi", "lo", "span", "read", "write", "members", "anchor", "anchor_k", "ok", "host")

    def __init__(self, tbi: bool):
        self.tbi = tbi
        self.lo = self.span = self.anchor_k = 0
        self.read = self.write = False
        self.members: list[tuple[Insn, int, int, bool]] = []   # (insn, offset, size, write)
        self.anchor = self.ok = self.host = None


def _access(insn: Insn):
    """(address temp, bytes, writes?, TBI?) of a groupable access, else None."""
    op = insn.op
    if op is Op.ld:
        memop, addr, write, n = insn.consts[0], insn.ins[0], False, 1
    elif op is Op.st:
        memop, addr, write, n = insn.consts[0], insn.ins[1], True, 1
    elif op is Op.st2:
        memop, addr, write, n = insn.consts[0], insn.ins[2], True, 2
    else:
        return None
    if memop & MemOp.ALIGN or addr.is_const:
        # alignment faults need the address itself; a constant address's
        # check folds to a compare with a constant already
        return None
    return addr, n << (memop & MemOp.SIZE_MASK), write, bool(memop & MemOp.TBI)


def _signed(k: int) -> int:
    return (k + 2**63) % 2**64 - 2**63


def plan(blk: Block) -> dict[int, Member]:
    """The grouped accesses of ``blk``, by id of their insn.

    A value is named by (id of the temp, how many writes of it came before):
    ``derived`` says which value plus which constant each local holds, so
    that accesses through different locals off the same value meet."""
    version: dict[int, int] = {}                 # id(temp) -> writes seen
    derived: dict[int, tuple] = {}               # id(local) -> (id(root), root version, offset)
    open_: dict[tuple, Group] = {}               # (id(root), version, tbi) -> group
    done: list[Group] = []

    def value(t) -> tuple:
        d = derived.get(id(t))
        return d if d is not None else (id(t), version.get(id(t), 0), 0)

    for insn in blk.insns:
        op = insn.op
        if op is Op.set_label or op.value.flags & _BARRIER_FLAGS:
            done.extend(open_.values())
            open_.clear()
            continue
        acc = _access(insn)
        if acc is not None:
            addr, size, write, tbi = acc
            root, ver, k = value(addr)
            g = open_.get((root, ver, tbi))
            if g is None:
                g = open_[root, ver, tbi] = Group(tbi)
                g.anchor, g.anchor_k = addr, _signed(k)
            g.members.append((insn, _signed(k), size, write))
        d = None
        if op in (Op.add, Op.sub, Op.mov) and insn.outs[0].is_local and not insn.ins[0].is_const:
            if op is Op.mov:
                d = value(insn.ins[0])
            elif insn.ins[1].is_const:
                root, ver, k = value(insn.ins[0])
                c = insn.ins[1].value
                d = (root, ver, (k + c if op is Op.add else k - c) & (2**64 - 1))
        for t in insn.outs:
            version[id(t)] = version.get(id(t), 0) + 1
            derived.pop(id(t), None)
        if d is not None:
            derived[id(insn.outs[0])] = d
    done.extend(open_.values())
    members: dict[int, Member] = {}
    for g in done:
        if len(g.members) < 2:
            continue
        lo = min(k for _, k, _, _ in g.members)
        hi = max(k + size for _, k, size, _ in g.members)
        if hi - lo > MAX_SPAN:
            continue
        g.lo, g.span = lo, hi - lo
        g.read = any(not w for *_, w in g.members)
        g.write = any(w for *_, w in g.members)
        for i, (insn, k, _, _) in enumerate(g.members):
            members[id(insn)] = Member(g, k - lo, i == 0)
    return members


def emit_check(fl, g: Group) -> None:
    """At the group's first access: ``g.ok`` (the span is in one page the
    TLB grants as needed) and ``g.host`` (host pointer of byte ``g.lo``)."""
    anchor = fl.get(g.anchor)
    memop = MemOp.TBI if g.tbi else 0
    lo_t, hi_t = fl.tmp(), fl.tmp()
    fl.emit(f"{lo_t} = add i64 {anchor}, {_c(g.lo - g.anchor_k)}")
    fl.emit(f"{hi_t} = add i64 {anchor}, {_c(g.lo - g.anchor_k + g.span - 1)}")
    lo, hi = untag(fl, lo_t, memop), untag(fl, hi_t, memop)
    x, ok = fl.tmp(), fl.tmp()
    fl.emit(f"{x} = xor i64 {lo}, {hi}")
    fl.emit(f"{ok} = icmp ult i64 {x}, {PAGE_SIZE}")
    entp = tlb_entry(fl, lo)
    page = fl.tmp()
    fl.emit(f"{page} = and i64 {lo}, {_c(PAGE_MASK)}")
    for want, write in ((g.read, False), (g.write, True)):
        if want:
            both = fl.tmp()
            fl.emit(f"{both} = and i1 {ok}, {tag_hit(fl, entp, page, write)}")
            ok = both
    g.ok, g.host = ok, host_ptr(fl, lo, entp)


def member_ptr(fl, m: Member) -> str:
    """Host pointer of member ``m``'s first byte (valid where ``g.ok``)."""
    if not m.k:
        return m.group.host
    p = fl.tmp()
    fl.emit(f"{p} = getelementptr i8, ptr {m.group.host}, i64 {m.k}")
    return p
