#!/bin/sh
# make fuzz-smoke: run every libFuzzer target that `make fuzz` built for a few seconds
# from its corpus (copied, since libFuzzer adds to its first directory) and print one TAP
# line each. The corpus replays of `make check` mutate 300 times a file; this is
# coverage-guided, and it checks that the libFuzzer builds still link. CI runs it.
#   smoke.sh SRCDIR SECONDS TARGET...
srcdir=$1 seconds=$2
shift 2
scratch=$(mktemp -d /tmp/fuzz-smoke.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
echo "1..$#"
n=0 failed=0
for target in "$@"; do
	n=$((n + 1))
	name=${target#fuzz-}
	mkdir -p "$scratch/$name"
	log="$scratch/$name.log"
	if "tests/fuzz/$target.libfuzzer" -max_total_time="$seconds" -print_final_stats=1 \
		-artifact_prefix="$scratch/$name-" "$scratch/$name" "$srcdir/tests/fuzz/corpus/$name" \
		>"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		echo "ok $n - $target: ${runs:-?} runs in $seconds s, no crash"
	else
		failed=1
		echo "not ok $n - $target: libFuzzer stopped"
		tail -n 30 "$log" | sed 's/^/# /'
	fi
done
exit $failed
