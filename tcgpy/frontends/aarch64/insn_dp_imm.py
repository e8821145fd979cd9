"""A64 data processing (immediate): add/sub, logical, move wide, adr/adrp,
bitfield, extract."""
from __future__ import annotations

from .decode import A64


@A64.pattern("sf:1 op:1 S:1 100010 sh:1 imm:12 rn:5 rd:5")
def trans_ADDSUB_i(ctx, a):
    imm = a.imm << (12 if a.sh else 0)
    src = ctx.read_reg(a.rn, sp=True)
    if a.op:
        res = ctx.gen_sub(src, imm, a.sf, a.S)
    else:
        res = ctx.gen_add(src, imm, a.sf, a.S)
    # The flag-setting forms write XZR for rd == 31 (cmp/cmn); the others SP.
    ctx.write_reg(a.rd, res, a.sf, sp=not a.S)
