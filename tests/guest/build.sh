#!/bin/sh
# Build the guest test programs (AArch64, static, stripped).  The binaries
# are committed so that the test suite needs no cross compiler.
#   fs_*.c   freestanding (mini.h): raw syscalls, integer registers only
#   asm_*.S  hand-written assembly
#   libc_*.c glibc programs (static, -O2); static-PIE and dynamic variants
#   bench_*.c glibc programs for bench/
#   gdb_demo.c freestanding, -g -O0, unstripped: what the gdbstub tests debug
set -e
cd "$(dirname "$0")"
CC=${CC:-aarch64-linux-gnu-gcc}
STRIP=${STRIP:-aarch64-linux-gnu-strip}
mkdir -p bin
LDFLAGS="-Wl,-z,max-page-size=4096 -Wl,--gc-sections"
FREE="$LDFLAGS -nostdlib -static -ffreestanding -fno-builtin -mgeneral-regs-only -fno-stack-protector -O2"
for src in fs_*.c; do
    $CC $FREE -o "bin/${src%.c}" "$src"
done
for src in asm_*.S; do
    $CC -nostdlib -static -o "bin/${src%.S}" "$src"
done
for src in libc_*.c bench_*.c; do
    $CC $LDFLAGS -static -O2 -pthread -o "bin/${src%.c}" "$src"
done
$CC $LDFLAGS -static-pie -fPIE -O2 -o bin/libc_hello_pie libc_hello.c
$CC $LDFLAGS -O2 -o bin/libc_hello_dyn libc_hello.c
$CC $FREE -static-pie -fPIE -o bin/fs_args_pie fs_args.c
$STRIP bin/*
# for the gdbstub tests: debug information, not stripped
$CC $LDFLAGS -nostdlib -static -ffreestanding -fno-builtin -mgeneral-regs-only -fno-stack-protector \
    -g -O0 -o bin/gdb_demo gdb_demo.c
