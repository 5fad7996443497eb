#!/bin/sh
# t-pyflakes.sh: every Python file of the tree (tests, their libraries, benches) passes
# pyflakes3, one TAP result a file. A name used but never defined hides in a branch that
# runs only when something already failed (a test's diagnostic), and turns that
# failure's report into a NameError; unused imports are where such slips start.
#
# Environment: abs_top_srcdir (set by make check).

srcdir=${abs_top_srcdir:?abs_top_srcdir is not set}

if ! command -v pyflakes3 >/dev/null 2>&1; then
	# Not a skip: bootstrap installs it, so its absence is a broken set-up.
	echo "1..1"
	echo "not ok 1 - pyflakes3 is not installed (./bootstrap installs it)"
	exit 1
fi

files=$(cd "$srcdir" && find tests bench demo tankworld -name '*.py' 2>/dev/null | LC_ALL=C sort)
set -- $files
echo "1..$#"
n=0
failed=0
for f in "$@"; do
	n=$((n + 1))
	if out=$(cd "$srcdir" && pyflakes3 "$f" 2>&1); then
		echo "ok $n - $f"
	else
		echo "not ok $n - $f"
		printf '%s\n' "$out" | sed 's/^/# /'
		failed=$((failed + 1))
	fi
done
[ "$failed" -eq 0 ]
