/* Zba, Zbb, Zbs on a set of operands: compared with qemu-riscv64
 * -cpu rv64,zba=true,zbb=true,zbs=true (ref/rv_bitmanip.out). */
#include <stdio.h>

#define R(name, insn) static unsigned long name(unsigned long a, unsigned long b) \
    { unsigned long r; __asm__(insn " %0, %1, %2" : "=r"(r) : "r"(a), "r"(b)); return r; }
#define U(name, insn) static unsigned long name(unsigned long a, unsigned long b) \
    { unsigned long r; (void)b; __asm__(insn " %0, %1" : "=r"(r) : "r"(a)); return r; }
#define I(name, insn, imm) static unsigned long name(unsigned long a, unsigned long b) \
    { unsigned long r; (void)b; __asm__(insn " %0, %1, " #imm : "=r"(r) : "r"(a)); return r; }

R(add_uw, "add.uw") R(sh1add, "sh1add") R(sh2add, "sh2add") R(sh3add, "sh3add")
R(sh1add_uw, "sh1add.uw") R(sh2add_uw, "sh2add.uw") R(sh3add_uw, "sh3add.uw") I(slli_uw, "slli.uw", 5)
R(andn, "andn") R(orn, "orn") R(xnor, "xnor") U(clz, "clz") U(clzw, "clzw") U(ctz, "ctz")
U(ctzw, "ctzw") U(cpop, "cpop") U(cpopw, "cpopw") R(max, "max") R(maxu, "maxu") R(min, "min")
R(minu, "minu") U(sext_b, "sext.b") U(sext_h, "sext.h") U(zext_h, "zext.h") R(rol, "rol")
R(rolw, "rolw") R(ror, "ror") R(rorw, "rorw") I(rori, "rori", 13) I(roriw, "roriw", 7)
U(orc_b, "orc.b") U(rev8, "rev8")
R(bclr, "bclr") I(bclri, "bclri", 63) R(bext, "bext") I(bexti, "bexti", 31) R(binv, "binv")
I(binvi, "binvi", 0) R(bset, "bset") I(bseti, "bseti", 40)

struct op { const char *name; unsigned long (*fn)(unsigned long, unsigned long); };
static const struct op ops[] = {
#define O(n) {#n, n},
    O(add_uw) O(sh1add) O(sh2add) O(sh3add) O(sh1add_uw) O(sh2add_uw) O(sh3add_uw) O(slli_uw)
    O(andn) O(orn) O(xnor) O(clz) O(clzw) O(ctz) O(ctzw) O(cpop) O(cpopw) O(max) O(maxu) O(min)
    O(minu) O(sext_b) O(sext_h) O(zext_h) O(rol) O(rolw) O(ror) O(rorw) O(rori) O(roriw)
    O(orc_b) O(rev8) O(bclr) O(bclri) O(bext) O(bexti) O(binv) O(binvi) O(bset) O(bseti)
};
static const unsigned long vals[] = {0, 1, 0x80, 0xffffffffffffffff, 0x8000000000000000,
    0x7fffffff, 0x80000000, 0x123456789abcdef0, 0xfedcba9876543210, 0x100000000, 63, 33,
    0xff00ff00000000ff};

int main(void)
{
    int n = sizeof vals / sizeof vals[0];
    for (unsigned i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        unsigned long h = 0;
        for (int a = 0; a < n; a++)
            for (int b = 0; b < n; b++)
                h = h * 1000003 ^ ops[i].fn(vals[a], vals[b]);
        printf("%-10s %016lx  %016lx\n", ops[i].name, h, ops[i].fn(vals[7], vals[11]));
    }
    return 0;
}
