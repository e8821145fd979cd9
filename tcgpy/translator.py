"""The architecture-neutral translation loop (QEMU's translator_loop).

A frontend supplies a ``DisasContext`` class; this loop fetches one guest
instruction at a time through the softmmu's execute permission, lets the
frontend emit IR for it, and ends the block on a branch, a page boundary, the
size cap, a stop address (breakpoint) or an instruction that cannot be fetched.
"""
from __future__ import annotations

import time

from collections.abc import Container

from .cpustate import PAGE_MASK
from .ir.builder import Builder
from .ir.core import Block
from .ir.ops import Exit

MAX_BLOCK_INSNS = 64


class FetchFault(Exception):
    """The first instruction of a block could not be fetched."""

    def __init__(self, pc: int):
        super().__init__(f"instruction fetch fault at {pc:#x}")
        self.pc = pc


def translate_block(arch, fetch, pc: int, max_insns: int = MAX_BLOCK_INSNS,
                    stops: Container[int] = (), log_insn=None, stats=None,
                    tbi: bool = False, refuses=None) -> Block:
    """Translate guest code at ``pc`` into an IR block.

    ``fetch(pc)`` returns the instruction as (word, length in bytes), or None
    when it cannot be fetched (not executable, misaligned): the target's
    fetch rule (tcgpy.targets.Target.fetch) says how long an instruction is.  ``stops`` end the block before those addresses (``run(until=)``,
    breakpoints).
    ``tbi`` makes data accesses ignore the address's top byte (MemOp.TBI),
    where the frontend implements it (the target's Linux ABI turns it on).
    ``refuses(word)``, when given, names words undefined on the chosen CPU
    model (features it lacks).
    """
    block = Block(pc, globals=arch.ir_globals)
    b = Builder(block)
    ctx = arch.DisasContext(b, block)
    ctx.tbi = tbi
    page = pc & PAGE_MASK
    cur = pc
    decoded = arch.decoder.candidates
    known = arch.decoder.decoded_before
    clock = time.perf_counter
    t_decode = 0.0
    while True:
        fetched = fetch(cur)
        if fetched is None:
            if block.guest_insns == 0:
                raise FetchFault(cur)
            b.goto_tb(cur)
            break
        word, isz = fetched
        b.insn_start(cur)
        block.insn_pcs.append(cur)
        block.guest_insns += 1
        ctx.pc = cur
        ctx.next_pc = cur + isz
        if log_insn is not None:
            log_insn(cur, word)
        if refuses is not None and refuses(word):
            candidates = ()
        else:
            candidates = known(word)
            if candidates is None:      # (a word met before costs a dict lookup: not timed)
                t0 = clock()
                candidates = decoded(word)
                t_decode += clock() - t0
        mark = len(block.insns)
        for p, args in candidates:
            if p.trans(ctx, args) is not False:
                break
            del block.insns[mark:]      # a declining translator may have emitted ops
        else:
            # Undefined: stop here with pc at the instruction, state precise.
            b.exit_tb(cur, Exit.ILLEGAL)
            ctx.ended = True
        if ctx.ended:
            break
        cur += isz
        if (block.guest_insns >= max_insns or (cur & PAGE_MASK) != page
                or cur in stops):
            b.goto_tb(cur)
            break
    block.guest_size = cur + isz - pc if ctx.ended else cur - pc
    if stats is not None:
        stats.time_decode += t_decode
    return block
