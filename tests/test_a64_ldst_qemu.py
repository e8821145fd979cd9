"""The hand-written load/store, exclusive, fault, branch and system tables run
natively on a third implementation: a static AArch64 program under
qemu-aarch64 -cpu cortex-a72 (current QEMU, not Unicorn's old fork).  Proves
the tables' expectations before they are used to judge tcgpy.

The program maps the code page at CODE_BASE, the data page at DATA_BASE and a
read-only page as the tests do, and switches to each case through signals:
a ``brk`` in the harness traps, the SIGTRAP handler loads x0..x30, sp, NZCV
and pc = CODE_BASE into the signal context and returns into the case; the
case ends on a ``brk`` appended after its last word (or faults), and the
handler records the context, so no register is disturbed on the way in or
out.  Handlers run on an alternate stack (a case's sp may point anywhere).

Where QEMU is known to differ from the tables (and from the architecture, or
from tcgpy's documented choice) the case is left out, with the reason below.
Needs aarch64-linux-gnu-gcc and qemu-aarch64 (opt-in with -m slow; skipped
with the reason when either is missing).
"""
from __future__ import annotations

import shutil
import subprocess

import pytest

from tcgpy.difftest.forms import CODE_BASE, DATA_BASE, DATA_SIZE

from . import test_a64_branch as br
from . import test_a64_branch_system as sysm
from . import test_a64_ldst as ls

GCC = "aarch64-linux-gnu-gcc"
QEMU = "qemu-aarch64"
M64 = (1 << 64) - 1

# Faults where QEMU's memory or outcome differs from the table by design:
QEMU_DIFFERS = {
    # tcgpy stores the upper half first when a pair crosses into the next
    # page (ops.pair_upper_first); QEMU writes the lower half before faulting.
    "stp upper element faults": "memory",
    "stp w across the end": "memory",
    # QEMU checks the monitor before alignment (as Unicorn): no fault, status 1.
    "stxr misaligned faults though the monitor is clear": "skip",
}


def _words(code: bytes) -> list[int]:
    return [int.from_bytes(code[i:i + 4], "little") for i in range(0, len(code), 4)]


def _state(regs: dict) -> list[int]:
    return [regs.get(f"x{i}", 0) & M64 for i in range(31)] + [regs.get("sp", 0) & M64,
                                                               regs.get("nzcv", 0) & M64]


def _mem(patches: dict) -> list[tuple[int, bytes]]:
    return [(off, bytes.fromhex(h)) for off, h in patches.items()]


def _cases() -> list[dict]:
    out = []
    for case in ls.ALL_CASES + sysm.CASES:
        want, _ = ls.expected(case)
        out.append(dict(name=ls._case_id(case), code=_words(case.code), regs=_state(case.regs),
                        expect=_state(want), pc=want["pc"], mem=_mem(case.mem),
                        sig=0, addrs=(), check_mem=True))
    for case in br.CASES:
        want = dict(case.regs)
        want.update(case.expect)
        out.append(dict(name=br._case_id(case), code=_words(case.code), regs=_state(case.regs),
                        expect=_state(want), pc=CODE_BASE + len(case.code), mem=[],
                        sig=0, addrs=(), check_mem=True))
    for f in ls.FAULTS:
        how = QEMU_DIFFERS.get(f.name)
        if how == "skip":
            continue
        addrs = f.address if isinstance(f.address, tuple) else (f.address,)
        out.append(dict(name=f.name, code=_words(f.code), regs=_state(f.regs), expect=_state(f.regs),
                        pc=CODE_BASE + 4 * f.at, mem=_mem(f.mem), sig=7 if f.align else 11,
                        addrs=addrs, check_mem=how != "memory"))
    return out


HARNESS = r"""
#define _GNU_SOURCE
#include <signal.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#define CODE 0x%(code)xUL
#define DATA 0x%(data)xUL
#define DATA_SIZE 0x%(data_size)xUL
#define RO 0x%(ro)xUL

struct c { const char *name; int nwords; const uint32_t *words; uint64_t in[33], want[33];
           uint64_t pc; int sig; int naddr; uint64_t addr[2]; int check_mem;
           int npatch; const uint32_t *poff; const uint8_t *const *pbytes; const int *plen; };

%(cases)s

static volatile int phase;
static uint64_t cur_in[33], got[33], got_pc, got_addr, saved_tp;
static volatile int got_sig;
static sigjmp_buf back;

static void handler(int sig, siginfo_t *si, void *ucv) {
    ucontext_t *uc = ucv;
    mcontext_t *m = &uc->uc_mcontext;
    if (phase == 0) {
        asm volatile("mrs %%0, tpidr_el0" : "=r"(saved_tp));
        for (int i = 0; i < 31; i++) m->regs[i] = cur_in[i];
        m->sp = cur_in[31];
        m->pstate = (m->pstate & ~0xF0000000UL) | (cur_in[32] & 0xF0000000UL);
        m->pc = CODE;
        phase = 1;
        return;
    }
    asm volatile("msr tpidr_el0, %%0; msr fpcr, xzr" :: "r"(saved_tp));
    for (int i = 0; i < 31; i++) got[i] = m->regs[i];
    got[31] = m->sp;
    got[32] = m->pstate & 0xF0000000UL;
    got_pc = m->pc;
    got_sig = sig;
    got_addr = (uint64_t)si->si_addr;
    phase = 0;
    siglongjmp(back, 1);
}

static uint8_t want_data[DATA_SIZE];

int main(void) {
    static uint8_t altstack[65536];
    stack_t ss = { .ss_sp = altstack, .ss_size = sizeof altstack };
    sigaltstack(&ss, 0);
    struct sigaction sa = { 0 };
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigaction(SIGTRAP, &sa, 0); sigaction(SIGSEGV, &sa, 0); sigaction(SIGBUS, &sa, 0);
    uint32_t *code = mmap((void *)CODE, 0x1000, PROT_READ | PROT_WRITE | PROT_EXEC,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    uint8_t *data = mmap((void *)DATA, DATA_SIZE, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    uint8_t *ro = mmap((void *)RO, 0x1000, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (code != (void *)CODE || data != (void *)DATA || ro != (void *)RO) { puts("mmap failed"); return 2; }
    int bad = 0, n = sizeof cases / sizeof cases[0];
    for (int k = 0; k < n; k++) {
        const struct c *c = &cases[k];
        memset(code, 0, 0x1000);
        memcpy(code, c->words, 4 * c->nwords);
        code[c->nwords] = 0xD4200000;                 /* brk #0: the end */
        __builtin___clear_cache((char *)code, (char *)code + 0x1000);
        for (uint64_t i = 0; i < DATA_SIZE; i++) data[i] = want_data[i] = i & 0xFF;
        for (int p = 0; p < c->npatch; p++) memcpy(want_data + c->poff[p], c->pbytes[p], c->plen[p]);
        memcpy(cur_in, c->in, sizeof cur_in);
        phase = 0; got_sig = 0;
        if (!sigsetjmp(back, 1)) asm volatile("brk #0x77");
        int sig = got_sig == SIGTRAP ? 0 : got_sig;
        uint64_t pc = got_pc;
        if (sig == 0) pc = got_pc;                   /* at the appended brk */
        if (sig != c->sig || pc != c->pc) {
            printf("%%s: signal %%d at pc %%#lx, want %%d at %%#lx\n", c->name, sig, pc, c->sig, c->pc);
            bad++; continue;
        }
        if (sig && !((uint64_t)got_addr == c->addr[0] || (c->naddr > 1 && got_addr == c->addr[1]))) {
            printf("%%s: fault address %%#lx\n", c->name, got_addr); bad++;
        }
        for (int r = 0; r < 33; r++)
            if (got[r] != c->want[r]) {
                printf("%%s: state[%%d] = %%#lx, want %%#lx\n", c->name, r, got[r], c->want[r]); bad++;
            }
        if (c->check_mem && memcmp(data, want_data, DATA_SIZE)) {
            for (uint64_t i = 0; i < DATA_SIZE; i++)
                if (data[i] != want_data[i]) { printf("%%s: data[%%#lx] = %%#x, want %%#x\n", c->name, i, data[i], want_data[i]); break; }
            bad++;
        }
    }
    printf("%%d cases, %%d differences\n", n, bad);
    return bad != 0;
}
"""


def _c_cases(cases: list[dict]) -> str:
    lines = []
    for k, c in enumerate(cases):
        lines.append(f"static const uint32_t w{k}[] = {{{', '.join(f'{w:#x}' for w in c['code'])}}};")
        for p, (off, b) in enumerate(c["mem"]):
            lines.append(f"static const uint8_t m{k}_{p}[] = {{{', '.join(str(x) for x in b)}}};")
        offs = ", ".join(str(off) for off, _ in c["mem"]) or "0"
        ptrs = ", ".join(f"m{k}_{p}" for p in range(len(c["mem"]))) or "0"
        lens = ", ".join(str(len(b)) for _, b in c["mem"]) or "0"
        lines.append(f"static const uint32_t po{k}[] = {{{offs}}};")
        lines.append(f"static const uint8_t *const pb{k}[] = {{{ptrs}}};")
        lines.append(f"static const int pl{k}[] = {{{lens}}};")
    entries = []
    for k, c in enumerate(cases):
        name = c["name"].replace('"', "'")
        addrs = list(c["addrs"]) + [0] * (2 - len(c["addrs"]))
        entries.append(
            f'{{"{name}", {len(c["code"])}, w{k}, {{{", ".join(f"{v:#x}UL" for v in c["regs"])}}}, '
            f'{{{", ".join(f"{v:#x}UL" for v in c["expect"])}}}, {c["pc"]:#x}UL, {c["sig"]}, '
            f'{len(c["addrs"])}, {{{addrs[0]:#x}UL, {addrs[1]:#x}UL}}, {int(c["check_mem"])}, '
            f'{len(c["mem"])}, po{k}, pb{k}, pl{k}}}')
    lines.append("static const struct c cases[] = {\n    " + ",\n    ".join(entries) + "\n};")
    return "\n".join(lines)


@pytest.mark.slow
def test_tables_on_qemu(tmp_path):
    missing = [tool for tool in (GCC, QEMU) if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
    cases = _cases()
    src = HARNESS % dict(code=CODE_BASE, data=DATA_BASE, data_size=DATA_SIZE, ro=ls.RO,
                         cases=_c_cases(cases))
    (tmp_path / "tables.c").write_text(src)
    exe = tmp_path / "tables"
    subprocess.run([GCC, "-static", "-O1", "-o", str(exe), str(tmp_path / "tables.c")],
                   check=True, capture_output=True, timeout=120)
    run = subprocess.run([QEMU, "-cpu", "cortex-a72", str(exe)], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip().endswith(f"{len(cases)} cases, 0 differences"), run.stdout
