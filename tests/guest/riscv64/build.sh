#!/bin/sh
# Build the riscv64 guest test programs (static, stripped).  The binaries are
# committed so that the test suite needs no cross compiler.  The libc_*
# programs are the AArch64 suite's portable sources (../libc_*.c); rv_*.c
# are riscv64's own (signal frames, F/D rules, rv_fpgrid: F/D on a grid of
# values in every rounding mode, and FP kernels); fs_bench and bench_fp are
# tcgpy bench's kernels.  No static-PIE: the Debian 12 cross
# glibc has no rcrt1.o for riscv64.
set -e
cd "$(dirname "$0")"
CC=${CC:-riscv64-linux-gnu-gcc}
STRIP=${STRIP:-riscv64-linux-gnu-strip}
mkdir -p bin
LDFLAGS="-Wl,-z,max-page-size=4096 -Wl,--gc-sections"
for src in ../libc_*.c rv_sigctx.c rv_fp.c rv_fpgrid.c rv_hwprobe.c; do
    name=$(basename "${src%.c}")
    $CC $LDFLAGS -static -O2 -pthread -o "bin/$name" "$src"
done
# the bit-manipulation extensions for rv_bitmanip alone (glibc is rv64gc)
$CC $LDFLAGS -static -O1 -march=rv64gc_zba_zbb_zbs -o bin/rv_bitmanip rv_bitmanip.c
# dynamic (PIE): tcgpy run -L /usr/riscv64-linux-gnu
$CC $LDFLAGS -O2 -o bin/libc_hello_dyn ../libc_hello.c
# freestanding (../mini.h), without F/D: the integer kernels of tcgpy bench
FREE="$LDFLAGS -nostdlib -static -ffreestanding -fno-builtin -fno-stack-protector -O2 -march=rv64imac -mabi=lp64"
$CC $FREE -o bin/fs_bench ../fs_bench.c
$CC $LDFLAGS -static -O2 -o bin/bench_fp ../bench_fp.c
$STRIP bin/*
# for the gdbstub tests (tests/test_gdbstub_rv64.py): debug information, not stripped
$CC $LDFLAGS -nostdlib -static -ffreestanding -fno-builtin -fno-stack-protector -g -O0 \
    -o bin/gdb_demo ../gdb_demo.c
