#!/bin/bash
# sim-pair.sh A B TANK.json [TICKS [THREADS]]: times two versions of the simulation core
# on the same saved tank, tick by tick in one process (bench/bench-pair.c says why).
# A and B are git revisions of this repository, or WORK for the working tree as it is.
# Run it from a configured build directory (it takes config.h and bench/bench-pair
# there). Make the tank with `bench/bench-sim save N FRAMES TANK.json`. The cores are
# compiled with $CC (default cc) and $SIM_PAIR_CFLAGS (default -O2 -g, as the build).
#   ../../bench/sim-pair.sh HEAD WORK /tmp/s100k.json 200 2
set -eu -o pipefail
if [ $# -lt 3 ]; then
	sed -n '2,8s/^# \{0,1\}//p' "$0" >&2
	exit 2
fi
a=$1 b=$2 tank=$3 ticks=${4:-200} threads=${5:-2}
build=$(pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
for f in config.h bench/bench-pair; do
	[ -e "$build/$f" ] || { echo "sim-pair: no $f here: run it from a configured build" >&2; exit 2; }
done
work=$(mktemp -d /tmp/sim-pair.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The sources of a revision (WORK: the working tree).
sources() {
	if [ "$1" = WORK ]; then
		echo "$top"
	else
		mkdir -p "$work/$2"
		git -C "$top" archive "$1" | tar -x -C "$work/$2" || return 1
		echo "$work/$2"
	fi
}

# The core as one shared object with its own copy of what it uses from libcommon;
# --no-undefined names anything the list below misses.
core() {
	local src=$1 out=$2
	# shellcheck disable=SC2086
	${CC:-cc} ${SIM_PAIR_CFLAGS:--O2 -g} -fPIC -shared -Wl,-Bsymbolic -Wl,--no-undefined \
		-I"$build" -I"$src" -I"$src/libcommon" -o "$out" "$src"/simd/sim/*.c \
		"$src"/libcommon/rng.c "$src"/libcommon/util.c "$src"/libcommon/xalloc.c \
		"$src"/libcommon/jsonv.c "$src"/libcommon/log.c -ljson-c -luuid -lm -lpthread
}

src_a=$(sources "$a" a)
src_b=$(sources "$b" b)
core "$src_a" "$work/a.so" &
pid=$!
core "$src_b" "$work/b.so"
wait $pid
echo "A = $a, B = $b"
"$build/bench/bench-pair" "$work/a.so" "$work/b.so" "$tank" "$ticks" "$threads"
