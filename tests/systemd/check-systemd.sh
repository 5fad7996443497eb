#!/bin/bash
# check-systemd.sh: the installed product under systemd as PID 1, in containers
# booted with systemd-nspawn (make check-systemd). TAP on stdout and in
# $abs_top_builddir/check-systemd.log (check-systemd-selftest.log for --selftest).
#
# 1. A cached Debian 12 root (base.sh) is copied afresh, "make install
#    DESTDIR=<copy>" installs the build into it, "systemctl --root enable"
#    enables tankworld.target and tw-check.service, and the copy boots. The
#    check unit runs inside.sh after tankworld.target, writes TAP to
#    /var/lib/twcheck/results.tap in the copy and powers the container off.
# 2. "make uninstall DESTDIR=<copy>" then must remove what install added and
#    keep the edited configuration and the state.
# 3. Two more copies, a hub and a worker, boot together on a bridge of their
#    own (--network-bridge; 198.18.0.0/15 addresses, nothing on the host's
#    side of the bridge) and migrate fish both ways.
#
# Every container runs under "timeout"; whatever happens, the pid namespace
# of each container is killed, its copy removed, and the bridge deleted, and
# the last checks verify that no process, mount or network device of the run
# is left.
#
# --selftest instead breaks tankworld-simd.service on purpose (a wrong
# ExecStart, then a sandbox that forbids the state directory) and checks
# that each break fails the start check with a message naming the unit.
#
# Environment (set by make): abs_top_builddir, abs_top_srcdir, MAKE, TW_PREFIX,
# TW_SYSCONFDIR, TW_LOCALSTATEDIR, TW_RUNSTATEDIR, TW_PKGDATADIR. Optional:
# TW_NSPAWN_CACHE (default /var/cache/tankworld), TW_NSPAWN_TIMEOUT (seconds
# per boot, default 300), TW_KEEP=1 keeps the work directory for inspection.
set -u
builddir=${abs_top_builddir:?abs_top_builddir is not set}
srcdir=${abs_top_srcdir:?abs_top_srcdir is not set}
here=$srcdir/tests/systemd
MAKE=${MAKE:-make}
BOOT_TIMEOUT=${TW_NSPAWN_TIMEOUT:-300}
selftest=no
[ "${1-}" = --selftest ] && selftest=yes
LOG=$builddir/check-systemd.log
[ $selftest = yes ] && LOG=$builddir/check-systemd-selftest.log

: >"$LOG"
say() { printf '%s\n' "$*" | tee -a "$LOG"; }
n=0
failed=0
ok() { n=$((n + 1)); say "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); say "not ok $n - $*"; }
diag() { sed 's/^/# /' "$@" | tee -a "$LOG"; }
skip_all() {
	say "1..0 # SKIP $*"
	echo "check-systemd: skipped: $*" >&2
	exit 0
}

# --- can this machine boot a container at all? ---
[ "$(uname -s)" = Linux ] || skip_all "not Linux"
[ "$(id -u)" = 0 ] || skip_all "systemd-nspawn and debootstrap need root"
case "${TW_PREFIX:-}" in
/usr | /usr/local) ;;
*) skip_all "configured with --prefix=${TW_PREFIX:-?}; systemd reads units from /usr or /usr/local only" ;;
esac
[ "${TW_SYSCONFDIR:-}" = /etc ] && [ "${TW_LOCALSTATEDIR:-}" = /var ] && [ "${TW_RUNSTATEDIR:-}" = /run ] ||
	skip_all "configure with --sysconfdir=/etc --localstatedir=/var --runstatedir=/run, as the units expect"
need=""
command -v systemd-nspawn >/dev/null 2>&1 || need="$need systemd-container"
command -v debootstrap >/dev/null 2>&1 || need="$need debootstrap"
if [ -n "$need" ]; then
	echo "check-systemd: installing$need" >&2
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need; } >&2 ||
		skip_all "could not install$need"
fi
if ! unshare --pid --mount --uts --ipc --net --fork true 2>/dev/null; then
	skip_all "the kernel does not allow new pid/mount/net namespaces here (unshare failed)"
fi
for t in timeout flock ip; do
	command -v $t >/dev/null 2>&1 || skip_all "$t is not installed"
done

base=$("$here/base.sh") || {
	not_ok "the base root is built with debootstrap"
	say "1..$n"
	exit 1
}
echo "check-systemd: base root $base" >&2

work=$(mktemp -d /var/tmp/tw-nspawn.XXXXXX) || exit 1
tag=tw$$
bridge=twbr$$
net=$(($$ % 250 + 1))
boot_pids=""

# The container's init is the child of systemd-nspawn in another pid
# namespace. Killing it kills everything in that namespace (the kernel does
# that when a namespace's init dies); its mounts and network devices go with it.
note_leader() { # note_leader TIMEOUT_PID FILE: records nspawn's pid, the container's init and its pid ns
	local tp=$1 f=$2 np="" c i
	for i in $(seq 600); do
		kill -0 "$tp" 2>/dev/null || return
		[ -n "$np" ] || np=$(pgrep -P "$tp" | head -1)
		for c in $(cat /proc/"$np"/task/*/children 2>/dev/null); do
			if [ "$(readlink /proc/"$c"/ns/pid)" != "$(readlink /proc/self/ns/pid)" ]; then
				echo "$c $(readlink /proc/"$c"/ns/pid) $np" >"$f"
				return
			fi
		done
		sleep 0.1
	done
}
# pids_in_ns INODE...: the pids whose pid namespace is one of these (one stat
# call for the whole of /proc, not a readlink per process).
pids_in_ns() {
	[ $# -gt 0 ] || return 0
	stat -L -c '%n %i' /proc/[0-9]*/ns/pid 2>/dev/null |
		awk -v list=" $* " 'index(list, " " $2 " ") { split($1, p, "/"); print p[3] }'
}
run_ns() { # run_ns [NAME]: the pid-namespace inodes of the run's containers (or of NAME's)
	local f pid ns np
	for f in "$work"/${1:-*}.leader; do
		[ -f "$f" ] || continue
		read -r pid ns np <"$f"
		echo "$ns" | tr -dc 0-9
		echo
	done
}
kill_leftovers() { # kill_leftovers [NAME]: kills nspawn and every process in the pid
	# namespaces the run (or container NAME) created
	local f pid ns np p
	for p in $(pids_in_ns $(run_ns ${1-})); do kill -KILL "$p" 2>/dev/null; done
	for f in "$work"/${1:-*}.leader; do
		[ -f "$f" ] || continue
		read -r pid ns np <"$f"
		[ "$(readlink /proc/"$np"/exe 2>/dev/null)" = "$(command -v systemd-nspawn)" ] && kill -KILL "$np" 2>/dev/null
	done
}
leftover_procs() {
	local p
	for p in $(pids_in_ns $(run_ns)); do
		echo "$p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"
	done
	pgrep -a -f "systemd-nspawn.*$work" 2>/dev/null
}
cleanup() {
	local p
	for p in $boot_pids; do kill -TERM "$p" 2>/dev/null; done
	kill_leftovers
	for p in $boot_pids; do wait "$p" 2>/dev/null; done
	kill_leftovers
	ip link del "$bridge" 2>/dev/null
	# nspawn leaves these behind when /run is not a tmpfs (it refuses to rm_rf there).
	rm -rf /run/systemd/nspawn/propagate/"$tag"-* /run/systemd/nspawn/unix-export/"$tag"-*
	if [ "${TW_KEEP:-0}" = 1 ]; then
		echo "check-systemd: kept $work" >&2
	else
		# Only after the containers are gone: their roots may still be mounted in them.
		grep -q " $work/" /proc/self/mountinfo || rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# make_root NAME: a fresh copy of the base with the build installed into it.
# Sets $root. Records in $work/NAME.installed the files install added.
make_root() {
	root=$work/$1
	cp -a --reflink=auto "$base" "$root" || return 1
	rm -f "$root/.complete" "$root/.packages"
	(cd "$root" && find . -xdev \( -type f -o -type l \) | sort) >"$work/$1.before"
	if ! (cd "$builddir" && $MAKE -s install DESTDIR="$root") >"$work/$1.install.log" 2>&1; then
		diag "$work/$1.install.log"
		return 1
	fi
	(cd "$root" && find . -xdev \( -type f -o -type l \) | sort) >"$work/$1.after"
	comm -13 "$work/$1.before" "$work/$1.after" >"$work/$1.installed"
	mkdir -p "$root/opt/twcheck" "$root/var/log/journal"
	install -m 0755 "$here/inside.sh" "$root/opt/twcheck/inside.sh"
}

# add_check_unit ROOT MODE: the unit that runs the checks once everything has
# started and powers the container off when they end, whatever the result.
add_check_unit() {
	cat >"$1/etc/systemd/system/tw-check.service" <<EOF
[Unit]
Description=tankworld check-systemd checks ($2)
After=multi-user.target tankworld.target tankworld-discoveryd.service tankworld-simd.service tankworld-migrated.service
SuccessAction=poweroff
FailureAction=poweroff

[Service]
Type=oneshot
Environment=TW_WWW=$TW_PKGDATADIR/www
ExecStart=/opt/twcheck/inside.sh $2
TimeoutStartSec=$((BOOT_TIMEOUT - 30))s
StandardOutput=journal+console

[Install]
WantedBy=multi-user.target
EOF
	systemctl --root="$1" enable tankworld.target tw-check.service >"$work/enable.log" 2>&1 || {
		diag "$work/enable.log"
		return 1
	}
}

# boot NAME [nspawn options...]: boots $work/NAME in the background, bounded by
# timeout; sets $boot_pid. The console goes to $work/NAME.console. Every
# container gets a network namespace of its own (--private-network or
# --network-bridge): the installed sockets listen on 127.0.0.1:8000-8002, which
# must clash neither with each other nor with anything on the host.
boot() {
	local name=$1
	shift
	timeout --kill-after=15 "$BOOT_TIMEOUT" systemd-nspawn --quiet --register=no --keep-unit \
		--boot --directory="$work/$name" --machine="$tag-$name" --console=pipe "$@" \
		</dev/null >"$work/$name.console" 2>&1 &
	boot_pid=$!
	boot_pids="$boot_pids $boot_pid"
	note_leader $boot_pid "$work/$name.leader" &
}
# finish_boot NAME PID: waits for the container, kills what is left of it,
# and turns its TAP results into checks of this run (renumbered).
finish_boot() {
	local name=$1 pid=$2 rc t0=$SECONDS res line
	wait "$pid"
	rc=$?
	kill_leftovers "$name"
	res=$work/$name/var/lib/twcheck/results.tap
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		not_ok "$name: the container powered off by itself within ${BOOT_TIMEOUT} s (timeout killed it)"
	elif [ "$rc" != 0 ]; then
		not_ok "$name: the container booted, ran the checks and powered off (exit $rc)"
		tail -n 5 "$work/$name.console" | diag
	else
		ok "$name: the container booted, ran the checks and powered off"
	fi
	if [ ! -f "$res" ]; then
		not_ok "$name: the check unit wrote its results"
		tail -n 40 "$work/$name.console" | diag
		return
	fi
	if grep -q '^not ok' "$res"; then
		echo "# $name: warnings and errors in the container's journal:" >>"$res.diag"
		journalctl -D "$work/$name/var/log/journal" --no-pager -q -p warning -o short-monotonic 2>/dev/null |
			grep -v 'kernel:\|Failed to kill control group\|fd limit' | tail -n 25 >>"$res.diag"
	fi
	[ "${3-}" = noimport ] && return
	while IFS= read -r line; do
		case "$line" in
		"ok "*) ok "$name: $(echo "$line" | sed 's/^ok [0-9]* - //')" ;;
		"not ok "*) not_ok "$name: $(echo "$line" | sed 's/^not ok [0-9]* - //')" ;;
		"#"*) say "$line" ;;
		esac
	done <"$res"
	[ -f "$res.diag" ] && diag "$res.diag"
	return 0
}

check_no_leftovers() {
	local p nb nl
	sleep 1
	nb=$(echo $boot_pids | wc -w)
	nl=$(ls "$work"/*.leader 2>/dev/null | wc -l)
	if [ "$nl" = "$nb" ]; then ok "the pid namespace of each of the $nb containers was recorded"; else
		not_ok "the pid namespace of each of the $nb containers was recorded (got $nl)"
	fi
	p=$(leftover_procs)
	if [ -z "$p" ]; then ok "no process of the containers is left"; else
		not_ok "no process of the containers is left"
		echo "$p" | diag
	fi
	if grep -q " $work/" /proc/self/mountinfo; then
		not_ok "no mount of the run is left"
		grep " $work/" /proc/self/mountinfo | diag
	else
		ok "no mount of the run is left"
	fi
	if ls -d /run/systemd/nspawn/*/"$tag"-* 2>/dev/null | grep -q .; then
		not_ok "nothing of the run is left in /run/systemd/nspawn"
		ls -d /run/systemd/nspawn/*/"$tag"-* | diag
	else
		ok "nothing of the run is left in /run/systemd/nspawn"
	fi
	if ip -o link show | grep -E "$bridge|vb-$tag" | grep -q .; then
		not_ok "no network device of the run is left"
		ip -o link show | grep -E "$bridge|vb-$tag" | diag
	else
		ok "no network device of the run is left"
	fi
}

# --- the self-test: units broken on purpose must fail, naming the unit ---
if [ $selftest = yes ]; then
	# Both broken copies boot at once.
	for brk in execstart sandbox; do
		name=break-$brk
		make_root "$name" || { not_ok "$name: install"; continue; }
		unit=$root$TW_PREFIX/lib/systemd/system/tankworld-simd.service
		case $brk in
		execstart) sed -i "s|^ExecStart=.*|ExecStart=$TW_PREFIX/sbin/simd-missing|" "$unit" ;;
		sandbox) sed -i 's|^\[Service\]|[Service]\nInaccessiblePaths=/var/lib/tankworld|' "$unit" ;;
		esac
		add_check_unit "$root" break || { not_ok "$name: enable"; continue; }
		boot "$name" --private-network
		eval "pid_$brk=$boot_pid"
	done
	for brk in execstart sandbox; do
		name=break-$brk
		eval "pid=\${pid_$brk:-}"
		[ -n "$pid" ] || continue
		finish_boot "$name" "$pid" noimport
		res=$work/$name/var/lib/twcheck/results.tap
		got=$(grep '^not ok' "$res" 2>/dev/null | grep -c 'tankworld-simd.service')
		others=$(grep '^not ok' "$res" 2>/dev/null | grep -v 'tankworld-simd' | grep -c .)
		if [ "$got" -ge 1 ] && [ "$others" = 0 ]; then
			ok "broken on purpose ($brk): the start check fails naming tankworld-simd.service"
		else
			not_ok "broken on purpose ($brk): the start check fails naming tankworld-simd.service ($got failures name it, $others others)"
		fi
		grep -A 20 '^not ok' "$res" 2>/dev/null | head -n 22 | diag
		rm -rf "$work/$name"
	done
	check_no_leftovers
	say "1..$n"
	[ $failed = 0 ]
	exit
fi

# --- make uninstall, on the powered-off copy of the one-server run ---
check_uninstall() {
	if (cd "$builddir" && $MAKE -s uninstall DESTDIR="$work/single") >"$work/uninstall.log" 2>&1; then
		ok "make uninstall DESTDIR=<the root> succeeds"
	else
		not_ok "make uninstall DESTDIR=<the root> succeeds"
		diag "$work/uninstall.log"
	fi
	left=$(cd "$work/single" && while read -r f; do
		[ -e "$f" ] || [ -L "$f" ] || continue
		case "$f" in ./etc/tankworld/*) continue ;; esac
		echo "$f"
	done <"$work/single.installed")
	if [ -z "$left" ]; then ok "make uninstall removed every file make install added outside /etc/tankworld"; else
		not_ok "make uninstall removed every file make install added outside /etc/tankworld"
		echo "$left" | diag
	fi
	dirs=$(find "$work/single/usr" -depth -type d -name tankworld 2>/dev/null)
	if [ -z "$dirs" ]; then ok "make uninstall removed tankworld's own folders under /usr"; else
		not_ok "make uninstall removed tankworld's own folders under /usr"
		echo "$dirs" | diag
	fi
	conf=$work/single/etc/tankworld/tankworld.conf
	check_conf() { [ -f "$conf" ] && grep -q 'edited by the operator' "$conf"; }
	if check_conf; then ok "make uninstall kept the edited /etc/tankworld/tankworld.conf"; else
		not_ok "make uninstall kept the edited /etc/tankworld/tankworld.conf"
	fi
	for f in $(cd "$work/single" && grep '^\./etc/tankworld/' "$work/single.installed" | grep -v 'tankworld.conf$'); do
		[ -e "$work/single/$f" ] && say "# kept by uninstall: ${f#.}"
	done
	if ls "$work"/single/var/lib/tankworld/sim/tanks/*/snapshot.json >/dev/null 2>&1 &&
		ls "$work"/single/var/lib/tankworld/discovery/registry.* >/dev/null 2>&1; then
		ok "make uninstall kept the state in /var/lib/tankworld"
	else
		not_ok "make uninstall kept the state in /var/lib/tankworld"
	fi
}

# --- two servers on a private network: the hub and the worker copies ---
setup_pair() {
	mkdir -p "$work/shared"
	pair_ok=yes
	if ! { ip link add "$bridge" type bridge && ip link set "$bridge" up; }; then
		not_ok "a private bridge for the two containers"
		pair_ok=no
		return
	fi
	token=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
	for role in hub worker; do
		[ $pair_ok = yes ] || break
		if [ $role = hub ]; then ip=198.18.$net.1; else ip=198.18.$net.2; fi
		echo "$ip" >"$work/shared/$role.ip"
		make_root "$role" && add_check_unit "$root" "$role" || {
			not_ok "$role: install"
			pair_ok=no
			break
		}
		# The cluster: a token, non-loopback listeners, the hub's address.
		printf '%s\n' "$token" >"$root/etc/tankworld/cluster-token"
		chroot "$root" sh -c 'systemd-sysusers >/dev/null && chgrp tankworld /etc/tankworld/cluster-token && chmod 0640 /etc/tankworld/cluster-token' 2>/dev/null ||
			not_ok "$role: the token is readable by group tankworld"
		{
			printf '[server]\nserver_id = %s\nadvertise_host = %s\n' $role "$ip"
			printf '[discovery]\nheartbeat_interval = 1\nheartbeat_timeout = 5\n'
			[ $role = worker ] && printf 'hub_url = http://198.18.%s.1:8000\n' $net
			printf '[migration]\nrequest_timeout = 3\n[security]\ntoken_file = /etc/tankworld/cluster-token\n'
		} >"$root/etc/tankworld/tankworld.conf.d/50-pair.conf"
		port=8000
		for d in discoveryd simd migrated; do
			mkdir -p "$root/etc/systemd/system/tankworld-$d.socket.d"
			printf '[Socket]\nListenStream=\nListenStream=/run/tankworld/%s.sock\nListenStream=0.0.0.0:%s\n' \
				$d $port >"$root/etc/systemd/system/tankworld-$d.socket.d/50-pair.conf"
			port=$((port + 1))
		done
		cat >"$root/etc/systemd/system/tw-net.service" <<-EOF
	[Unit]
	Description=tankworld check-systemd: address on the private network
	Before=network.target tankworld-discoveryd.service
	Wants=network.target

	[Service]
	Type=oneshot
	RemainAfterExit=yes
	ExecStart=/bin/sh -c 'ip link set lo up; for i in \$(seq 100); do ip link show host0 >/dev/null 2>&1 && break; sleep 0.1; done; ip link set host0 up && ip addr replace $ip/24 dev host0'
	# Seen once on a shared machine: the unit's cgroup was gone when systemd attached
	# its process (exit 219/CGROUP) and the container never got its address. A retry,
	# and "replace", which a second run can repeat, make that a one-second delay.
	Restart=on-failure
	RestartSec=1

	[Install]
	WantedBy=multi-user.target
	EOF
		systemctl --root="$root" enable tw-net.service >/dev/null 2>&1
	done
}

# The one-server container and the pair run at the same time: most of their
# time is spent waiting (restarts, the watchdog, heartbeats).
t0=$SECONDS
single_ok=no
if make_root single && add_check_unit "$root" single; then
	ok "make install DESTDIR=<fresh root> and systemctl --root enable tankworld.target ($(wc -l <"$work/single.installed") files)"
	boot single --private-network
	single_pid=$boot_pid
	single_ok=yes
else
	not_ok "make install DESTDIR=<fresh root> and systemctl --root enable tankworld.target"
fi
setup_pair
if [ $pair_ok = yes ]; then
	ok "hub and worker installed, on bridge $bridge (198.18.$net.0/24)"
	echo "check-systemd: hub and worker installed after $((SECONDS - t0)) s" >&2
	boot hub --network-bridge="$bridge" --bind="$work/shared:/twshared"
	hub_pid=$boot_pid
	boot worker --network-bridge="$bridge" --bind="$work/shared:/twshared"
	worker_pid=$boot_pid
fi
if [ $single_ok = yes ]; then
	finish_boot single $single_pid
	echo "check-systemd: one server done after $((SECONDS - t0)) s" >&2
	check_uninstall
	rm -rf "$work/single"
fi
if [ $pair_ok = yes ]; then
	finish_boot hub $hub_pid
	finish_boot worker $worker_pid
	echo "check-systemd: two servers done after $((SECONDS - t0)) s" >&2
fi

kill_leftovers
ip link del "$bridge" 2>/dev/null
rm -rf /run/systemd/nspawn/propagate/"$tag"-* /run/systemd/nspawn/unix-export/"$tag"-*
check_no_leftovers
say "1..$n"
[ $failed = 0 ]
