#!/bin/sh
# Fetch Debian's busybox-static for arm64 (a real static glibc program nobody
# here wrote) into tests/guest/ext/busybox, for tests/test_linux_busybox.py.
# Uses a private apt state directory: the host's apt configuration and
# architecture list are left alone.
set -e
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/dl"
opts="-o APT::Sandbox::User=root -o APT::Architecture=arm64 -o APT::Architectures::=arm64 -o Dir::State::Lists=$work/lists \
      -o Dir::Cache=$work/cache -o Dir::State::status=/dev/null"
apt-get $opts update >/dev/null
(cd "$work/dl" && apt-get $opts download busybox-static:arm64 >/dev/null 2>&1)
dpkg-deb -x "$work"/dl/busybox-static_*_arm64.deb "$work/x"
mkdir -p "$here/ext"
cp "$work/x/bin/busybox" "$here/ext/busybox"
echo "tests/guest/ext/busybox: $(dpkg-deb -f "$work"/dl/busybox-static_*_arm64.deb Version)"
