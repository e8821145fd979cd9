#!/bin/sh
# Build the x86-64 guest test programs (run by the KVM engine) with the
# host's gcc into ../bin-x86_64.  The binaries are committed; the tests
# compare each one under tcgpy with the same binary run natively, so a
# dynamic one needs only the host's own glibc.
#   libc_*.c       the shared glibc programs, dynamically linked (-L / is the default for KVM guests)
#   *_static       a few of them statically linked
#   x86_faults.c   privileged instructions and bad accesses -> signals (static)
#   x86_avx_signal.c  AVX/AVX-512 state across a signal handler, the frame's XSAVE area (static)
#   x86_hostile.c  a scan of the address space, writes where the VM's own pages are in
#                  guest-physical space (static)
#   kvm_bench.c    syscall and compute loops for `tcgpy bench --kvm` (static)
#   kvm_threads.c  threads that must run at the same time, and a compute kernel on
#                  T threads for `tcgpy bench --kvm` (static)
#   gdb_demo.c     what the gdbstub tests debug (static, -g -O0, not stripped)
set -e
cd "$(dirname "$0")"
CC=${CC:-gcc}
OUT=../bin-x86_64
mkdir -p $OUT
LDFLAGS="-Wl,-z,max-page-size=4096 -Wl,--gc-sections"
for src in ../libc_*.c; do
    name=$(basename "${src%.c}")
    $CC $LDFLAGS -O2 -pthread -o "$OUT/$name" "$src"
done
for name in libc_hello libc_threads libc_sys; do
    $CC $LDFLAGS -static -O2 -pthread -o "$OUT/${name}_static" "../$name.c"
done
$CC $LDFLAGS -static -O1 -o $OUT/x86_faults x86_faults.c
$CC $LDFLAGS -static -O1 -o $OUT/x86_avx_signal x86_avx_signal.c
$CC $LDFLAGS -static -O1 -pthread -o $OUT/x86_hostile x86_hostile.c
$CC $LDFLAGS -static -O2 -o $OUT/kvm_bench kvm_bench.c
$CC $LDFLAGS -static -O2 -pthread -o $OUT/kvm_threads kvm_threads.c
strip $OUT/*
# for the gdbstub tests (tests/test_gdbstub_x86_64.py): debug information, not stripped
$CC $LDFLAGS -static -g -O0 -o $OUT/gdb_demo gdb_demo.c
