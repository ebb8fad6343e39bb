#!/bin/bash
# fetch_lwip.sh DIR - put Debian's lwip source package, unpacked with Debian's
# patches applied, in DIR/src (a cache: nothing is done if it is there).
#
# Debian's liblwip-dev is the Hurd port (NO_SYS=0, malloc per pbuf, 64 KiB
# window) and cannot take our lwipopts.h, so we compile lwIP's core from the
# source package instead.  apt runs with a private deb-src list and private
# state, cache and status files under DIR, so /etc/apt and the system's apt
# state are never touched.  Nothing fetched here is committed (DIR is under
# build/, which git ignores).
set -euo pipefail
dir=${1:?usage: fetch_lwip.sh DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
[ -f "$dir/src/src/core/tcp.c" ] && exit 0

for tool in apt-get dpkg-source; do
	command -v "$tool" >/dev/null || {
		echo "fetch_lwip: $tool is missing; run 'make deps' (it installs dpkg-dev)" >&2; exit 1; }
done

apt_dir="$dir/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$dir/download"
touch "$apt_dir/status"
# The same mirror the system uses for binaries, as a deb-src line.
mirror=$( { sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null
            sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*\).*/\2/p' \
                /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null; } |
          tr ' ' '\n' | grep -E '^https?://' | grep -v security | head -n1 || true)
mirror=${mirror:-http://deb.debian.org/debian}
suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" > "$apt_dir/sources.list"

apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
          -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
          -o "Dir::State::status=$apt_dir/status" -o APT::Sandbox::User=root)
echo "fetch_lwip: fetching Debian's lwip source package from $mirror ($suite) into $dir"
if ! apt-get "${apt_opts[@]}" -qq update >"$dir/apt.log" 2>&1; then
	echo "fetch_lwip: apt-get update failed (see $dir/apt.log); check the network or mirror $mirror" >&2; exit 1
fi
if ! (cd "$dir/download" && apt-get "${apt_opts[@]}" -qq source --download-only lwip >>"$dir/apt.log" 2>&1); then
	echo "fetch_lwip: apt-get source lwip failed (see $dir/apt.log)" >&2; exit 1
fi
dsc=$(ls "$dir"/download/lwip_*.dsc | head -n1)
rm -rf "$dir/src.tmp"
dpkg-source --no-check -x "$dsc" "$dir/src.tmp" >>"$dir/apt.log" 2>&1
mv "$dir/src.tmp" "$dir/src"
echo "fetch_lwip: $(basename "$dsc" .dsc) unpacked in $dir/src"
