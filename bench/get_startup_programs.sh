#!/bin/sh
# Fetch real AArch64 Linux programs nobody here wrote, from Debian 12's
# (bookworm) arm64 archive, into one sysroot for the start-up benchmark
# (bench/startup_bench.py, tcgpy bench --startup) and the steady-state one
# (bench/steady_bench.py, tcgpy bench --steady):
#   static           busybox-static, bash-static
#   dynamic (-L)     python3.11 (minimal), perl-base, sqlite3, gawk, git, lua5.4,
#                    coreutils (sort, sha256sum, b2sum, md5sum), xz-utils,
#                    file (+ magic database), make, dash; and for the steady
#                    state openssl, zstd, gzip, bzip2, grep
# with glibc and every shared library they load.
#
#   bench/get_startup_programs.sh [DIR]
#
# DIR defaults to ${XDG_CACHE_HOME:-~/.cache}/tcgpy-bench; the sysroot is
# DIR/sysroot (give it to -L), the .deb files are kept in DIR/debs.
# Idempotent: packages already downloaded or extracted are not fetched again
# (delete DIR to start over; TCGPY_BENCH_APT_UPDATE=1 refreshes the package
# lists).  Uses a private apt state directory (DIR/apt): the host's apt
# configuration and architecture list are left alone.  With qemu-aarch64
# installed, asks the sysroot's dynamic loader at the end whether each
# program finds all its shared libraries, and names any still missing.
set -e
dir=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/tcgpy-bench}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
sys="$dir/sysroot"
mkdir -p "$dir/apt/lists/partial" "$dir/apt/cache/archives/partial" "$dir/debs" "$sys"
opts="-o APT::Sandbox::User=root -o APT::Architecture=arm64 -o APT::Architectures::=arm64 \
      -o Dir::State::Lists=$dir/apt/lists -o Dir::Cache=$dir/apt/cache -o Dir::State::status=/dev/null"

# Package lists: one per program, each followed by the libraries it loads
# (found from the Depends: fields, then checked by running each program under
# qemu-aarch64 -L until it started).
PKGS="
libc6 libgcc-s1
busybox-static bash-static
python3.11-minimal libpython3.11-minimal libexpat1 zlib1g libssl3
perl-base libcrypt1
sqlite3 libsqlite3-0 libreadline8 libtinfo6 readline-common
gawk libgmp10 libmpfr6 libsigsegv2
git libpcre2-8-0
lua5.4
coreutils libacl1 libattr1 libselinux1
xz-utils liblzma5
file libmagic1 libmagic-mgc libbz2-1.0
make dash
openssl
zstd libzstd1 liblz4-1 libstdc++6
gzip bzip2 grep
"

if [ ! -e "$dir/apt/updated" ] || [ "${TCGPY_BENCH_APT_UPDATE:-0}" = 1 ]; then
    echo "updating the private arm64 package lists in $dir/apt"
    apt-get $opts update >/dev/null
    touch "$dir/apt/updated"
fi

fetched=0 extracted=0 have=0
for pkg in $PKGS; do
    deb=$(ls "$dir/debs/${pkg}"_*.deb 2>/dev/null | head -n 1)
    if [ -z "$deb" ]; then
        if ! (cd "$dir/debs" && apt-get $opts download "$pkg:arm64" >/dev/null 2>"$dir/debs/.err"); then
            echo "error: could not download $pkg:" >&2
            cat "$dir/debs/.err" >&2
            exit 1
        fi
        deb=$(ls "$dir/debs/${pkg}"_*.deb | head -n 1)
        echo "fetched   $pkg $(dpkg-deb -f "$deb" Version)"
        fetched=$((fetched + 1))
    fi
    name=$(basename "$deb")
    if grep -qxF "$name" "$sys/.tcgpy-extracted" 2>/dev/null; then
        have=$((have + 1))
    else
        dpkg-deb -x "$deb" "$sys"
        echo "$name" >>"$sys/.tcgpy-extracted"
        echo "extracted $pkg $(dpkg-deb -f "$deb" Version)"
        extracted=$((extracted + 1))
    fi
done
rm -f "$dir/debs/.err"
echo "$fetched package(s) fetched, $extracted extracted, $have already in place: sysroot $sys"

# Each program must find its libraries in the sysroot: ask the dynamic
# loader (under qemu-aarch64) what is missing.
if command -v qemu-aarch64 >/dev/null 2>&1; then
    missing=0
    for prog in usr/bin/python3.11 usr/bin/perl usr/bin/sqlite3 usr/bin/gawk usr/bin/git \
                usr/bin/lua5.4 usr/bin/sort usr/bin/sha256sum usr/bin/xz usr/bin/file \
                usr/bin/make bin/dash usr/bin/openssl usr/bin/zstd bin/gzip bin/bzip2 \
                bin/grep; do
        [ -e "$sys/$prog" ] || prog=$(echo "$prog" | sed 's,^usr/,,')
        if [ ! -e "$sys/$prog" ]; then
            echo "missing: /$prog"; missing=1; continue
        fi
        out=$(qemu-aarch64 -L "$sys" "$sys/lib/ld-linux-aarch64.so.1" --list "$sys/$prog" 2>&1 || true)
        if echo "$out" | grep -q "not found"; then
            echo "/$prog: $(echo "$out" | grep "not found" | tr -s ' \t\n' ' ')"
            missing=1
        fi
    done
    [ $missing = 0 ] && echo "every program finds its shared libraries in the sysroot"
fi
if [ "$dir" = "$(cd "${XDG_CACHE_HOME:-$HOME/.cache}" 2>/dev/null && pwd)/tcgpy-bench" ]; then
    echo "run: python bench/startup_bench.py, bench/steady_bench.py   (or tcgpy bench --startup, --steady)"
else
    echo "run: python bench/startup_bench.py (or steady_bench.py) --sysroot $sys   (or tcgpy bench --startup/--steady --sysroot ...)"
fi
