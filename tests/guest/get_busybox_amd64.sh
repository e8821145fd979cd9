#!/bin/sh
# Fetch Debian's amd64 busybox-static (glibc, static) into
# tests/guest/ext/busybox-amd64 for the opt-in realworld test of the KVM
# engine (tests/test_kvm_realworld.py), which compares it with native runs.
# The host's own apt sources are amd64: no architecture to add.
set -e
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$here/ext"
(cd "$work" && apt-get -o APT::Sandbox::User=root download busybox-static:amd64 >/dev/null)
deb=$(ls "$work"/busybox-static_*_amd64.deb)
dpkg-deb -x "$deb" "$work/x"
echo "busybox-static:amd64 $(dpkg-deb -f "$deb" Version)"
cp "$work/x/bin/busybox" "$here/ext/busybox-amd64"
