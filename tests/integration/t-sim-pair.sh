#!/bin/sh
# t-sim-pair.sh: bench/sim-pair.sh builds two cores and bench-pair steps one saved tank
# with each (TAP). Both are the working tree here, so both must end on the same state
# hash, one that differs from the saved tank's (the ticks ran), and the paired ratio
# must be printed. The cores are compiled at -O0 to keep this quick; a real comparison
# uses the build's flags.
#
# Environment: abs_top_srcdir, abs_top_builddir (set by make check).

srcdir=${abs_top_srcdir:?abs_top_srcdir is not set}
builddir=${abs_top_builddir:?abs_top_builddir is not set}
tmp=$(mktemp -d /tmp/twpair.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

echo "1..4"
saved=$("$builddir/bench/bench-sim" save 300 20 "$tmp/tank.json" | sed -n 's/.*state hash \([0-9a-f]*\).*/\1/p')
if [ -n "$saved" ]; then
	echo "ok 1 - bench-sim saves a 300-fish tank (hash $saved)"
else
	echo "not ok 1 - bench-sim save gave no state hash"
fi
out=$(cd "$builddir" && SIM_PAIR_CFLAGS=-O0 "$srcdir/bench/sim-pair.sh" WORK WORK "$tmp/tank.json" 10 2 2>&1)
rc=$?
printf '%s\n' "$out" | sed 's/^/# /'
ha=$(printf '%s\n' "$out" | sed -n 's/^A: .*state hash \([0-9a-f]*\)$/\1/p')
hb=$(printf '%s\n' "$out" | sed -n 's/^B: .*state hash \([0-9a-f]*\)$/\1/p')
if [ "$rc" -eq 0 ] && [ -n "$ha" ] && [ "$ha" = "$hb" ]; then
	echo "ok 2 - both cores end on the same state hash ($ha)"
else
	echo "not ok 2 - exit $rc, hashes '$ha' and '$hb'"
fi
if [ -n "$ha" ] && [ "$ha" != "$saved" ]; then
	echo "ok 3 - the tank moved on from the saved state"
else
	echo "not ok 3 - hash '$ha' against the saved '$saved'"
fi
if printf '%s\n' "$out" | grep -q '^B/A per tick: median [0-9.]*, quartiles [0-9.]*-[0-9.]*, 10 ticks on 2 threads$'; then
	echo "ok 4 - the paired ratio is printed"
else
	echo "not ok 4 - no paired ratio line"
fi
