#!/bin/sh
# Build a RISC-V 64 sysroot from Debian 13's (trixie) riscv64 archive for the
# opt-in realworld tests of dynamic programs (tests/test_linux_rv64_dynamic.py):
#   python3.13 (with its standard library), perl, sqlite3, coreutils, gawk,
#   xz-utils, git
# with glibc and every package they depend on (Depends and Pre-Depends,
# followed to the end, taking the first of each set of alternatives).
#
#   tests/guest/get_riscv64_sysroot.sh [DIR]
#
# DIR defaults to tests/guest/ext/riscv64; the sysroot is DIR/sysroot (give it
# to -L), the .deb files are kept in DIR/debs.  Idempotent: packages already
# downloaded or extracted are not fetched again (delete DIR to start over);
# a package the archive has updated since is fetched and extracted over.
# Straight from the archive's index with curl: bookworm, which the host's apt
# sources name, has no riscv64, and the host's apt configuration is left
# alone.  With qemu-riscv64 installed, asks the sysroot's dynamic loader at
# the end whether each program finds all its shared libraries.
set -e
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-$here/ext/riscv64}
mkdir -p "$dir/debs" "$dir/sysroot"
dir=$(cd "$dir" && pwd)
sys="$dir/sysroot"
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

ROOTS="libc6 python3.13-minimal libpython3.13-stdlib perl sqlite3 coreutils gawk xz-utils git"
PROGRAMS="usr/bin/python3.13 usr/bin/perl usr/bin/sqlite3 usr/bin/sort usr/bin/sha256sum \
          usr/bin/wc usr/bin/ls usr/bin/gawk usr/bin/xz usr/bin/git"

# The index always afresh (a few seconds): the archive drops superseded
# versions, so an old index would name .deb files that are gone.
curl -fsS "$mirror/dists/trixie/main/binary-riscv64/Packages.xz" | xz -dc >"$dir/Packages.tmp"
mv "$dir/Packages.tmp" "$dir/Packages"

# The closure of ROOTS under Depends/Pre-Depends, one "name filename" a line.
# A virtual package resolves to the first package that Provides it.
closure=$(awk -v roots="$ROOTS" '
    function first_names(field,    n, i, parts, a) {
        n = split(field, parts, ",")
        out = ""
        for (i = 1; i <= n; i++) {
            split(parts[i], a, "|")
            sub(/^[ \t]+/, "", a[1]); sub(/[ \t(:].*$/, "", a[1])
            if (a[1] != "") out = out " " a[1]
        }
        return out
    }
    /^Package: / { pkg = $2; if (!(pkg in file)) keep = 1; else keep = 0 }
    keep && /^Filename: / { file[pkg] = $2 }
    keep && /^(Pre-)?Depends: / { sub(/^[^:]*: /, ""); deps[pkg] = deps[pkg] first_names($0) }
    keep && /^Provides: / {
        sub(/^Provides: /, ""); n = split(first_names($0), pv, " ")
        for (i = 1; i <= n; i++) if (!(pv[i] in provider)) provider[pv[i]] = pkg
    }
    END {
        n = split(roots, todo, " ")
        while (n > 0) {
            p = todo[n--]
            if (!(p in file) && (p in provider)) p = provider[p]
            if (p in seen) continue
            if (!(p in file)) { print "error: no package " p > "/dev/stderr"; exit 1 }
            seen[p] = 1
            print p, file[p]
            m = split(deps[p], d, " ")
            for (i = 1; i <= m; i++) todo[++n] = d[i]
        }
    }' "$dir/Packages")

echo "$closure" | while read -r pkg path; do
    deb="$dir/debs/$(basename "$path")"
    if [ ! -s "$deb" ]; then
        curl -fsS -o "$deb.tmp" "$mirror/$path"
        mv "$deb.tmp" "$deb"
        echo "fetched   $pkg $(dpkg-deb -f "$deb" Version)"
    fi
    name=$(basename "$deb")
    if ! grep -qxF "$name" "$sys/.tcgpy-extracted" 2>/dev/null; then
        dpkg-deb -x "$deb" "$sys"
        echo "$name" >>"$sys/.tcgpy-extracted"
    fi
done
echo "$(echo "$closure" | wc -l) packages in the sysroot $sys"

# Debian 13's /usr is merged: /lib, /bin and /sbin are links that the
# installer makes (no package ships them), and the programs name their
# dynamic loader as /lib/ld-linux-riscv64-lp64d.so.1.
for d in lib bin sbin; do
    [ -e "$sys/$d" ] || ln -s "usr/$d" "$sys/$d"
done

# python3.13 is the program; python3 the name scripts use (python3-minimal,
# which holds that link, would pull in the whole python3 packaging).
[ -e "$sys/usr/bin/python3" ] || ln -s python3.13 "$sys/usr/bin/python3"

if command -v qemu-riscv64 >/dev/null 2>&1; then
    missing=0
    for prog in $PROGRAMS; do
        if [ ! -e "$sys/$prog" ]; then
            echo "missing: /$prog"; missing=1; continue
        fi
        if ! out=$(qemu-riscv64 -L "$sys" "$sys/lib/ld-linux-riscv64-lp64d.so.1" --list "$sys/$prog" 2>&1) ||
           echo "$out" | grep -q "not found"; then
            echo "/$prog: $(echo "$out" | grep -v "=> /" | tr -s ' \t\n' ' ')"
            missing=1
        fi
    done
    [ $missing = 0 ] || exit 1
    echo "every program finds its shared libraries in the sysroot"
fi
