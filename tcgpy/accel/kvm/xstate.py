"""The vCPU's FP and vector state as an XSAVE area (standard form, as
KVM_GET_XSAVE gives it and as Linux puts it in a signal frame).

The first 512 bytes are the legacy fxsave image (x87, MXCSR, xmm0-15), the
next 64 the XSAVE header (XSTATE_BV: which components are not in their
initial state), then each further state component at the offset CPUID leaf
0xD gives for it (sub-leaf i: size in EAX, offset in EBX): AVX's upper
halves of ymm0-15, AVX-512's opmask, zmm0-15's upper halves and zmm16-31.
The components a guest may use are the XCR0 tcgpy gives its vCPUs.

``user_image`` is what ``XSAVE`` writes, ``load_image`` what ``XRSTOR``
does with an image (including its checks, which make Linux's rt_sigreturn
fail), ``init_state`` the state Linux gives a signal handler.
"""
from __future__ import annotations

from dataclasses import dataclass

# The fxsave image (64-bit format): field offsets and sizes ("ftw" is the
# abridged tag: one bit per physical x87 register), and the register arrays,
# 16 bytes apart: st0-st7 (80 bits, in stack order) and xmm0-xmm15.
FX_FIELDS = {"fcw": (0, 2), "fsw": (2, 2), "ftw": (4, 1), "fop": (6, 2), "fip": (8, 8), "fdp": (16, 8),
             "mxcsr": (24, 4)}
MXCSR_MASK_OFF = 28                    # which MXCSR bits may be set (written by fxsave/XSAVE)
FX_ARRAYS = {"st": (32, 8, 10), "xmm": (160, 16, 16)}          # prefix: (offset, count, size)
FX_STRIDE = 16
LEGACY_SIZE = 512
X87_AREA = (0, 24), (32, 160)          # fcw..fdp, st0-st7: what the x87 component covers
XMM_AREA = (160, 416)
HEADER, HEADER_SIZE = 512, 64
XSTATE_BV = HEADER                     # the header's component bitmap; the rest of it must be zero
X87, SSE, AVX = 1, 2, 4
XSTATE_X87_SSE = X87 | SSE
# x87, SSE, AVX, and the AVX-512 states (opmask, ZMM_Hi256, Hi16_ZMM) when the CPU has them
XCR0_WANTED = X87 | SSE | AVX | 0xE0
FCW_INIT, MXCSR_INIT = 0x37F, 0x1F80
MXCSR_MASK_DEFAULT = 0xFFBF            # the SDM's value when the image holds 0
CPUID_XSAVE = 1 << 26                  # CPUID.1:ECX


class BadXstate(ValueError):
    """An image XRSTOR would refuse with #GP (Linux's rt_sigreturn then fails)."""


@dataclass(frozen=True)
class Layout:
    """The XSAVE area of the guest's vCPUs."""
    features: int                       # XCR0: the components the guest may use (0: no XSAVE)
    size: int                           # bytes of the standard-form area for them
    components: tuple[tuple[int, int, int], ...]   # (bit, offset, size) of each beyond x87 and SSE


def layout_from_cpuid(cpuid: dict) -> Layout:
    """The layout for a vCPU with ``cpuid`` ({(leaf, subleaf): (eax, ebx, ecx, edx)}):
    the components of leaf 0xD tcgpy enables (XCR0_WANTED), none when it
    has no x87 and SSE (no XSAVE)."""
    features = cpuid.get((0xD, 0), (0,))[0] & XCR0_WANTED
    if features & XSTATE_X87_SSE != XSTATE_X87_SSE:
        return Layout(0, LEGACY_SIZE, ())        # no XSAVE: the fxsave image alone
    components = []
    for bit in range(2, features.bit_length()):
        if features >> bit & 1:
            size, offset = cpuid[(0xD, bit)][:2]
            components.append((bit, offset, size))
    size = max([HEADER + HEADER_SIZE, *(off + n for _, off, n in components)])
    return Layout(features, size, tuple(components))


YMM_COUNT = 16


def ymm_halves(layout: Layout, name: str) -> tuple[int, int] | None:
    """(offset of its low half, of its high half) of register ``name``
    ("ymm0".."ymm15") in the area, or None (another name, or no AVX)."""
    index = name[3:]
    if not name.startswith("ymm") or not index.isdigit() or int(index) >= YMM_COUNT:
        return None
    high = next((off for bit, off, _ in layout.components if bit == 2), None)
    if high is None:
        return None
    base, _, size = FX_ARRAYS["xmm"]
    return base + FX_STRIDE * int(index), high + size * int(index)


def _mxcsr_mask(area) -> int:
    return int.from_bytes(area[MXCSR_MASK_OFF:MXCSR_MASK_OFF + 4], "little") or MXCSR_MASK_DEFAULT


def user_image(area, layout: Layout) -> bytes:
    """What XSAVE with every user component requested writes (the fxsave
    image alone without XSAVE): the header holds XSTATE_BV only; the
    software-reserved bytes of the fxsave image are the caller's."""
    img = bytearray(area[:layout.size])
    img[464:LEGACY_SIZE] = bytes(LEGACY_SIZE - 464)
    if layout.features:
        bv = int.from_bytes(area[XSTATE_BV:XSTATE_BV + 8], "little") & layout.features
        img[HEADER:HEADER + HEADER_SIZE] = bv.to_bytes(8, "little") + bytes(HEADER_SIZE - 8)
    return bytes(img)


def load_image(area, img: bytes, rfbm: int, layout: Layout) -> None:
    """XRSTOR of the standard-form ``img`` into ``area`` for the components
    in ``rfbm``, the others put in their initial state (what Linux's
    rt_sigreturn does for the components a frame does not name).  A
    component whose XSTATE_BV bit is clear gets its initial state too; MXCSR
    is loaded with SSE or AVX.  Without XSAVE (``layout.features`` 0) it is
    FXRSTOR.  Raises BadXstate for what the CPU refuses: reserved MXCSR
    bits, a header with more than XSTATE_BV, or bits of it outside XCR0."""
    mxcsr = int.from_bytes(img[24:28], "little")
    if mxcsr & ~_mxcsr_mask(area):
        raise BadXstate(f"reserved MXCSR bits in {mxcsr:#x}")
    if not layout.features:
        bv = rfbm = XSTATE_X87_SSE
    else:
        bv = int.from_bytes(img[XSTATE_BV:XSTATE_BV + 8], "little")
        if bv & ~layout.features or any(img[XSTATE_BV + 8:HEADER + HEADER_SIZE]):
            raise BadXstate("XSAVE header with reserved bits")
    bv &= rfbm
    if bv & X87:
        for start, end in X87_AREA:
            area[start:end] = img[start:end]
    else:
        _init_x87(area)
    area[24:28] = img[24:28] if rfbm & (SSE | AVX) else MXCSR_INIT.to_bytes(4, "little")
    area[XMM_AREA[0]:XMM_AREA[1]] = img[XMM_AREA[0]:XMM_AREA[1]] if bv & SSE else bytes(256)
    for bit, off, size in layout.components:
        area[off:off + size] = img[off:off + size] if bv >> bit & 1 else bytes(size)
    if layout.features:
        # x87 and SSE are claimed even when initial (their initial values
        # are written out above): KVM_SET_XSAVE loads MXCSR only with them.
        area[XSTATE_BV:XSTATE_BV + 8] = (bv | XSTATE_X87_SSE).to_bytes(8, "little")


def init_state(area, layout: Layout) -> None:
    """Every user component in its initial state (x87 after fninit, MXCSR
    0x1f80, vector registers zero): what a signal handler starts with."""
    _init_x87(area)
    area[24:28] = MXCSR_INIT.to_bytes(4, "little")
    area[XMM_AREA[0]:XMM_AREA[1]] = bytes(256)
    for _, off, size in layout.components:
        area[off:off + size] = bytes(size)
    if layout.features:
        area[XSTATE_BV:XSTATE_BV + 8] = XSTATE_X87_SSE.to_bytes(8, "little")


def _init_x87(area) -> None:
    area[0:24] = FCW_INIT.to_bytes(2, "little") + bytes(22)
    area[32:160] = bytes(128)
