#!/bin/bash
# base.sh: prints the path of the cached Debian 12 root that check-systemd boots,
# building it first with debootstrap when it is missing.
#
# The root is a minbase bookworm with systemd, dbus, the daemons' run-time
# libraries and the tools the checks use inside. It lives in
#   ${TW_NSPAWN_CACHE:-/var/cache/tankworld}/nspawn-base-<hash>
# where <hash> covers the package list, the suite, the mirror and this script's
# format version: changing any of them builds a new root (older ones are
# removed). The mirror is the first one the machine's apt sources name for
# Debian's main archive. Building takes a few minutes; a lock keeps two runs
# from building at once.
set -eu

SUITE=bookworm
FORMAT=1
PKGS="systemd systemd-sysv dbus libevent-2.1-7 libevent-core-2.1-7 \
libevent-pthreads-2.1-7 libjson-c5 libcurl4 libsystemd0 libuuid1 curl jq \
iproute2 procps"
cache=${TW_NSPAWN_CACHE:-/var/cache/tankworld}

# The first http(s) URI that apt uses for the Debian archive with $SUITE
# (deb822 .sources files first, then one-line sources.list entries).
mirror() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v suite="$SUITE" '
			/^[ \t]*$/ { if (uri != "" && ok && !sec) { print uri; exit } uri = ""; ok = 0; sec = 0; next }
			/^URIs:/ { uri = $2 }
			/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
			/^URIs:.*security/ { sec = 1 }
			END { if (uri != "" && ok && !sec) print uri }
		' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk -v suite="$SUITE" '$1 == "deb" && $0 !~ /security/ {
			for (i = 2; i <= NF; i++) if ($i == suite) { u = $(i - 1); if (u ~ /^\[/) next; print u; exit } }' "$f"
	done
}

url=$(mirror | head -1)
[ -n "$url" ] || url=http://deb.debian.org/debian
hash=$(printf '%s\n' "$FORMAT" "$SUITE" "$url" $PKGS | sha256sum | cut -c1-12)
dir="$cache/nspawn-base-$hash"
if [ -f "$dir/.complete" ]; then
	echo "$dir"
	exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/nspawn-base.lock"
flock 9
if [ ! -f "$dir/.complete" ]; then
	echo "base.sh: building $dir from $url ($SUITE, minbase)" >&2
	tmp="$dir.tmp.$$"
	rm -rf "$tmp"
	log="$cache/nspawn-base-$hash.log"
	if ! debootstrap --variant=minbase --include="$(echo $PKGS | tr ' ' ,)" \
		"$SUITE" "$tmp" "$url" >"$log" 2>&1; then
		tail -n 20 "$log" >&2
		rm -rf "$tmp"
		echo "base.sh: debootstrap failed (log: $log)" >&2
		exit 1
	fi
	# Smaller and quieter boots: no apt lists, no getty on the console, a
	# machine id made at first boot of each copy.
	rm -rf "$tmp"/var/lib/apt/lists/* "$tmp"/var/cache/apt/*.bin
	: >"$tmp/etc/machine-id"
	printf '%s\n' $PKGS >"$tmp/.packages"
	touch "$tmp/.complete"
	for old in "$cache"/nspawn-base-*; do
		case "$old" in *.lock|*.log|"$dir"*) continue ;; esac
		[ -d "$old" ] && rm -rf "$old"
	done
	mv "$tmp" "$dir"
fi
echo "$dir"
