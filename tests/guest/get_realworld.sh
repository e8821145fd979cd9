#!/bin/sh
# Fetch real AArch64 Linux programs nobody here wrote, from Debian's arm64
# archive, into tests/guest/ext/ for the opt-in realworld tests
# (tests/test_linux_busybox.py, tests/test_linux_realworld.py):
#   busybox          busybox-static (glibc, static)
#   zsh-static       zsh-static (glibc, static)
#   mksh-musl, mksh-diet, mksh-klibc
#                    mksh linked statically against three other libcs
#   shfmt            a Go program (static; goroutines on threads, futexes, signals)
# and a RISC-V 64 one from Debian 13's riscv64 archive (bookworm, which the
# apt sources name, has no riscv64):
#   busybox-riscv64  busybox-static (glibc, static)
# and, with get_busybox_amd64.sh, Debian's amd64 busybox-static for the
# KVM engine (tests/test_kvm_realworld.py);
# and then, with get_riscv64_sysroot.sh, a riscv64 sysroot of dynamic
# programs (python3, perl, sqlite3, coreutils, gawk, xz, git) in ext/riscv64.
# Uses a private apt state directory: the host's apt configuration and
# architecture list are left alone.
set -e
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/dl" "$work/x" "$here/ext"
opts="-o APT::Sandbox::User=root -o APT::Architecture=arm64 -o APT::Architectures::=arm64 -o Dir::State::Lists=$work/lists \
      -o Dir::Cache=$work/cache -o Dir::State::status=/dev/null"
apt-get $opts update >/dev/null
for pkg in busybox-static zsh-static mksh shfmt; do
    (cd "$work/dl" && apt-get $opts download "$pkg:arm64" >/dev/null 2>&1)
    deb=$(ls "$work"/dl/"${pkg}"_*_arm64.deb)
    dpkg-deb -x "$deb" "$work/x"
    echo "$pkg $(dpkg-deb -f "$deb" Version)"
done
x="$work/x"
cp "$x/bin/busybox" "$here/ext/busybox"
cp "$x/bin/zsh-static" "$here/ext/zsh-static"
cp "$x/usr/lib/aarch64-linux-musl/bin/mksh" "$here/ext/mksh-musl"
cp "$x/usr/lib/diet/bin/mksh" "$here/ext/mksh-diet"
cp "$x/usr/lib/klibc/bin/mksh" "$here/ext/mksh-klibc"
cp "$x/usr/bin/shfmt" "$here/ext/shfmt"
# riscv64: straight from the archive's index (no apt architecture to add)
mirror=http://deb.debian.org/debian
curl -fsS "$mirror/dists/trixie/main/binary-riscv64/Packages.xz" | xz -dc > "$work/Packages.riscv64"
deb=$(awk '/^Package: busybox-static$/ {p=1} p && /^Filename:/ {print $2; exit}' "$work/Packages.riscv64")
curl -fsS -o "$work/bb-rv64.deb" "$mirror/$deb"
mkdir -p "$work/rv"
dpkg-deb -x "$work/bb-rv64.deb" "$work/rv"
echo "busybox-static:riscv64 $(dpkg-deb -f "$work/bb-rv64.deb" Version)"
cp "$work/rv/usr/bin/busybox" "$here/ext/busybox-riscv64"
"$here/get_busybox_amd64.sh"
ls "$here/ext"
"$here/get_riscv64_sysroot.sh" "$here/ext/riscv64"
