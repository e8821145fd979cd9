"""Syscalls served by host code: ``read``, ``write``, ``pread64`` and
``pwrite64`` on descriptors that never wait, without a return to Python.

A guest syscall used to leave translated code for the dispatcher and the
Linux layer's Python (``Exit.SYSCALL``): 5-10 us a call against
qemu-aarch64's 0.7, paid on every buffer by dd, openssl, the checksum tools
and the compressors.  At a syscall exit translated code now calls env
``syscall_fn`` when it is not 0 (lower.host_syscall): the function below,
``i64 fn(env)``, does the call itself when it is one of these four on a
descriptor the Linux layer listed (``SyscallState.fds``: its never-waiting
descriptors, syscalls/blocking.py) with the buffer inside one guest region
that host code may access that way (the TLB refill's region table:
FAST_WRITE for a buffer the call fills, which a region holding translated
code, MMIO or a watched page never has; FAST_READ for one it drains).  It
writes the result to the target's return register and returns 1; anything
else -- another syscall, another descriptor, a buffer Python must see, a
host error -- returns 0 with nothing changed, and the syscall goes to Python
as before (which gives the errno and EFAULT as it always did).

The function's text names only its own internals and libc, so its object
code is kept in the persistent cache as the other runtime functions' are.
"""
from __future__ import annotations

import ctypes

from ...cpustate import FAST_READ, FAST_WRITE, RegionEntry
from ...record import record
from .refill import region_search

# Descriptors the table can list: the guest's usual ones (RLIMIT_NOFILE's
# default soft limit is 1024); a higher one takes the Python path.
MAX_FDS = 4096


class SyscallState(ctypes.Structure):
    """What env ``syscall_state`` points at."""
    _fields_ = [("served", ctypes.c_uint64),                  # calls host code served
                ("fds", ctypes.c_uint64 * (MAX_FDS // 64))]   # bit fd: the descriptor may be served


# The calls served: name -> (libc function, what the call does to guest
# memory: the region permission host code needs, whether it takes an offset).
CALLS = {
    "read": ("read", FAST_WRITE, False),
    "write": ("write", FAST_READ, False),
    "pread64": ("pread64", FAST_WRITE, True),
    "pwrite64": ("pwrite64", FAST_READ, True),
}


@record(frozen=True)
class SyscallSpec:
    """Where one target's syscalls sit in its env, and their numbers."""
    name: str                       # the function's name (unique per target)
    number: int                     # env offset of the syscall number register
    args: tuple[int, ...]           # env offsets of the first four argument registers
    ret: int                        # env offset of the result register
    numbers: dict                   # CALLS name -> this target's syscall number
    max_io: int                     # the Linux layer's cap on one transfer (syscalls/fs.py)
    mem_table: int                  # env offset of the region table pointer
    state: int                      # env offset of the SyscallState pointer


_ENT = {name: getattr(RegionEntry, name).offset for name, _ in RegionEntry._fields_}


def syscall_text(spec: SyscallSpec) -> str:
    """The module defining ``i64 @<spec.name>(ptr env)``: 1 when it served
    the syscall in env, 0 when Python must."""
    fd_arg, buf_arg, count_arg, off_arg = spec.args[:4]
    served = SyscallState.served.offset
    fds = SyscallState.fds.offset
    cases = " ".join(f"i64 {spec.numbers[name]}, label %is_{name}" for name in CALLS)
    picks = "".join(f"is_{name}:\n  br label %desc\n" for name in CALLS)
    kinds = ", ".join(f"[ {i}, %is_{name} ]" for i, name in enumerate(CALLS))
    needs = ", ".join(f"[ {need}, %is_{name} ]" for name, (_, need, _) in CALLS.items())
    decls = "".join(
        f"declare i64 @{fn}(i32, ptr, i64{', i64' if off else ''})\n" for fn, _, off in CALLS.values())
    calls = []
    for i, (fn, _, off) in enumerate(CALLS.values()):
        extra = ", i64 %off" if off else ""
        calls.append(f"do{i}:\n  %r{i} = call i64 @{fn}(i32 %fd32, ptr %hp, i64 %n{extra})\n  br label %done\n")
    do_cases = " ".join(f"i64 {i}, label %do{i}" for i in range(1, len(CALLS)))
    results = ", ".join(f"[ %r{i}, %do{i} ]" for i in range(len(CALLS)))
    return region_search(spec.mem_table) + decls + f"""\
define i64 @{spec.name}(ptr %env) {{
entry:
  %nrp = getelementptr i8, ptr %env, i64 {spec.number}
  %nr = load i64, ptr %nrp
  switch i64 %nr, label %python [ {cases} ]
{picks}desc:
  %kind = phi i64 {kinds}
  %need = phi i64 {needs}
  %fdp = getelementptr i8, ptr %env, i64 {fd_arg}
  %fdarg = load i64, ptr %fdp
  %fd = and i64 %fdarg, 4294967295      ; the kernel's unsigned int fd
  %fdok = icmp ult i64 %fd, {MAX_FDS}
  br i1 %fdok, label %listed, label %python
listed:
  %stp = getelementptr i8, ptr %env, i64 {spec.state}
  %st = load ptr, ptr %stp
  %wi = lshr i64 %fd, 6
  %wo = shl i64 %wi, 3
  %wo2 = add i64 %wo, {fds}
  %wp = getelementptr i8, ptr %st, i64 %wo2
  %w = load i64, ptr %wp
  %bi = and i64 %fd, 63
  %bit = lshr i64 %w, %bi
  %b = and i64 %bit, 1
  %ours = icmp ne i64 %b, 0
  br i1 %ours, label %buffer, label %python
buffer:
  %bufp = getelementptr i8, ptr %env, i64 {buf_arg}
  %addr = load i64, ptr %bufp
  %cp = getelementptr i8, ptr %env, i64 {count_arg}
  %count = load i64, ptr %cp
  %big = icmp ugt i64 %count, {spec.max_io}
  %n = select i1 %big, i64 {spec.max_io}, i64 %count
  %empty = icmp eq i64 %n, 0                 ; (Python's: no buffer to check)
  %nm1 = sub i64 %n, 1
  %last = add i64 %addr, %nm1
  %wraps = icmp ult i64 %last, %addr
  %skip = or i1 %empty, %wraps
  br i1 %skip, label %python, label %search
search:
  %rp = call ptr @region_granting(ptr %env, i64 %addr, i64 %last, i64 %need)
  %none = icmp eq ptr %rp, null
  br i1 %none, label %python, label %call
call:
  %addp = getelementptr i8, ptr %rp, i64 {_ENT['addend']}
  %addend = load i64, ptr %addp
  %h = add i64 %addr, %addend
  %hp = inttoptr i64 %h to ptr
  %fd32 = trunc i64 %fd to i32
  %offp = getelementptr i8, ptr %env, i64 {off_arg}
  %off = load i64, ptr %offp
  switch i64 %kind, label %do0 [ {do_cases} ]
{''.join(calls)}done:
  %r = phi i64 {results}
  %failed = icmp slt i64 %r, 0               ; Python redoes it and gives the guest its errno
  br i1 %failed, label %python, label %result
result:
  %rtp = getelementptr i8, ptr %env, i64 {spec.ret}
  store i64 %r, ptr %rtp
  %sp = getelementptr i8, ptr %st, i64 {served}
  %s = load i64, ptr %sp
  %s1 = add i64 %s, 1
  store i64 %s1, ptr %sp
  ret i64 1
python:
  ret i64 0
}}
"""
