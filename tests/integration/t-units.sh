#!/bin/sh
# t-units.sh: check the systemd units, sysusers.d and tmpfiles.d files (TAP).
#
# - systemd-analyze verify on every unit: fails on a non-zero exit and on
#   any output on stderr (verify exits 0 after "Unknown key" warnings).
#   The services are verified with @sbindir@ replaced by the daemons of the
#   build tree, because verify checks that ExecStart= exists.
# - systemd-analyze security --offline=true on every service: the overall
#   exposure must be at most $MAX_EXPOSURE.
# - systemd-sysusers and systemd-tmpfiles run on the shipped files against a
#   scratch --root (never the host), as root only.
#
# systemd 252's verify does not look up User=/SocketUser= (checked: a
# missing user gives no message), so nothing needs filtering and the host
# needs no tankworld user.
#
# Environment: abs_top_srcdir, abs_top_builddir (set by make check).

MAX_EXPOSURE=2.0

srcdir=${abs_top_srcdir:?abs_top_srcdir is not set}
builddir=${abs_top_builddir:?abs_top_builddir is not set}
units="$srcdir/systemd"

daemons="discoveryd simd migrated"
services="tankworld-discoveryd.service tankworld-simd.service tankworld-migrated.service"
others="tankworld-discoveryd.socket tankworld-simd.socket tankworld-migrated.socket tankworld.target"

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "1..0 # SKIP systemd-analyze not found"
	exit 0
fi

n=0
failed=0
ok() {
	n=$((n + 1))
	echo "ok $n - $*"
}
not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $*"
}
skip() {
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
}
diag() {
	sed 's/^/# /' "$@"
}

echo "1..$((3 + 1 + 4 + 4 + 2))"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tw-units.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
mkdir "$tmp/units"

# Copy the units into one folder (verify resolves the units a unit refers
# to, such as Also= and the socket of a service, from the same folder).
for d in $daemons; do
	exe="$builddir/$d/$d"
	if ! test -x "$exe"; then
		echo "# $exe is not built: verifying tankworld-$d.service with ExecStart=/bin/true"
		exe=/bin/true
	fi
	sed -e "s|@sbindir@/$d\$|$exe|" \
		"$units/tankworld-$d.service.in" >"$tmp/units/tankworld-$d.service" || exit 1
done
for u in $others; do
	cp "$units/$u" "$tmp/units/$u" || exit 1
done
# The first-boot token unit runs the script from the source tree.
sed -e "s|@pkglibexecdir@/tankworld-mktoken|$srcdir/etc/tankworld-mktoken|" \
	-e "s|@sysconfdir@|/etc|g" \
	"$units/tankworld-token.service.in" >"$tmp/units/tankworld-token.service" || exit 1

# 1. systemd-analyze verify, one unit at a time so a failure names its unit.
for u in $services tankworld-token.service $others; do
	f="$tmp/units/$u"
	if grep -n '@[A-Za-z_]*@' "$f" >"$tmp/subst" 2>&1; then
		not_ok "verify $u: unsubstituted @variables@"
		diag "$tmp/subst"
		continue
	fi
	(cd "$tmp/units" && systemd-analyze verify --man=no "$f") \
		>"$tmp/out" 2>"$tmp/err"
	rc=$?
	if test $rc -eq 0 && ! test -s "$tmp/err"; then
		ok "verify $u"
	else
		not_ok "verify $u (exit $rc, stderr must be empty)"
		diag "$tmp/out" "$tmp/err"
	fi
done

# 2. systemd-analyze security: overall exposure of each service.
for u in $services tankworld-token.service; do
	systemd-analyze security --offline=true --man=no "$tmp/units/$u" \
		>"$tmp/out" 2>"$tmp/err"
	rc=$?
	score=$(sed -n 's/^.*Overall exposure level for [^:]*: \([0-9][0-9.]*\) .*$/\1/p' "$tmp/out")
	if test $rc -ne 0 || test -z "$score"; then
		not_ok "security $u: no score (exit $rc)"
		diag "$tmp/out" "$tmp/err"
	elif awk -v s="$score" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s + 0 <= m + 0) }'; then
		ok "security $u: exposure $score <= $MAX_EXPOSURE"
	else
		not_ok "security $u: exposure $score > $MAX_EXPOSURE"
		grep '✗' "$tmp/out" | diag
	fi
done

# 3. sysusers.d and tmpfiles.d, applied to a scratch root. systemd-tmpfiles
# resolves user names through the host's NSS even with --root, so the
# tmpfiles copy gets the numeric ids that sysusers allocated in the scratch
# root.
root="$tmp/root"
if test "$(id -u)" != 0; then
	skip "sysusers creates user and group tankworld" "needs root"
	skip "tmpfiles creates /run/tankworld 0750 tankworld:tankworld" "needs root"
elif ! command -v systemd-sysusers >/dev/null 2>&1 ||
	! command -v systemd-tmpfiles >/dev/null 2>&1; then
	skip "sysusers creates user and group tankworld" "systemd-sysusers/-tmpfiles not found"
	skip "tmpfiles creates /run/tankworld 0750 tankworld:tankworld" "systemd-sysusers/-tmpfiles not found"
else
	mkdir -p "$root/etc"
	systemd-sysusers --root="$root" "$units/tankworld.sysusers" \
		>"$tmp/out" 2>"$tmp/err"
	rc=$?
	uid=$(awk -F: '$1 == "tankworld" { print $3 }' "$root/etc/passwd" 2>/dev/null)
	gid=$(awk -F: '$1 == "tankworld" { print $3 }' "$root/etc/group" 2>/dev/null)
	if test $rc -eq 0 && test -n "$uid" && test -n "$gid" &&
		! grep -Ev '^Creating (group|user) ' "$tmp/err" >/dev/null; then
		ok "sysusers creates user and group tankworld (uid $uid, gid $gid)"
	else
		not_ok "sysusers creates user and group tankworld (exit $rc)"
		diag "$tmp/out" "$tmp/err"
	fi

	if test -n "$uid" && test -n "$gid"; then
		awk -v u="$uid" -v g="$gid" '
			/^[ \t]*(#|$)/ { print; next }
			{ if ($4 == "tankworld") $4 = u; if ($5 == "tankworld") $5 = g; print }
		' "$units/tankworld.tmpfiles" >"$tmp/tankworld.tmpfiles"
		systemd-tmpfiles --root="$root" --create "$tmp/tankworld.tmpfiles" \
			>"$tmp/out" 2>"$tmp/err"
		rc=$?
		got=$(stat -c '%a %u %g' "$root/run/tankworld" 2>/dev/null)
		if test $rc -eq 0 && ! test -s "$tmp/err" && test "$got" = "750 $uid $gid"; then
			ok "tmpfiles creates /run/tankworld 0750 tankworld:tankworld"
		else
			not_ok "tmpfiles creates /run/tankworld 0750 tankworld:tankworld (exit $rc, got '$got')"
			diag "$tmp/out" "$tmp/err"
		fi
	else
		not_ok "tmpfiles creates /run/tankworld 0750 tankworld:tankworld (no user from sysusers)"
	fi
fi

test $failed -eq 0
