#!/bin/sh
# t-dist.sh: the release tarball ships everything the README uses and every file the
# repository tracks (issue 9: make dist left out demo/run.sh, the README's first
# command). It fills a scratch distdir (what "make dist" packs) and compares. TAP.
#
# Environment: abs_top_srcdir, abs_top_builddir (set by make check).

srcdir=${abs_top_srcdir:?abs_top_srcdir is not set}
builddir=${abs_top_builddir:?abs_top_builddir is not set}

if [ ! -w "$srcdir" ] || [ ! -e "$srcdir/README.md" ]; then
	echo "1..0 # SKIP the source tree is read-only (inside distcheck)"
	exit 0
fi

tmp=$(mktemp -d /tmp/twdist.XXXXXX) || exit 1
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
n=0
fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); fail=1; echo "not ok $n - $1"; }

if make -s -C "$builddir" distdir distdir="$tmp/tw" >"$tmp/log" 2>&1; then
	ok "make distdir"
else
	notok "make distdir"
	sed 's/^/#   /' "$tmp/log" | tail -n 20
fi

# What the README tells a new user to run or read.
for f in demo/run.sh .ci/run bootstrap configure.ac README.md docs/migrated.md \
	docs/simd-protocol.md docs/simulation-model.md; do
	if [ -e "$tmp/tw/$f" ]; then ok "ships $f"; else notok "ships $f"; fi
done
for f in demo/run.sh .ci/run bootstrap; do
	if [ -x "$tmp/tw/$f" ]; then ok "$f stays executable"; else notok "$f stays executable"; fi
done

# Every tracked file but the git ones (when the source is a git checkout).
if command -v git >/dev/null 2>&1 && git -C "$srcdir" rev-parse >/dev/null 2>&1; then
	missing=$(cd "$srcdir" && git ls-files | grep -v -e '^\.gitignore$' -e '/\.gitignore$' |
		while read -r f; do [ -e "$tmp/tw/$f" ] || echo "$f"; done)
	if [ -z "$missing" ]; then
		ok "every tracked file is in the tarball"
	else
		notok "every tracked file is in the tarball"
		echo "$missing" | sed 's/^/#   missing: /'
	fi
fi
echo "1..$n"
exit $fail
