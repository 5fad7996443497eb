#!/bin/bash
# inside.sh: the checks that run inside a booted container, under systemd as
# PID 1, started by tw-check.service after tankworld.target. TAP goes to
# $OUT (the host reads it after the container powered off); the unit powers
# the container off when this script ends, whatever its result.
#
# Usage: inside.sh single|break|hub|worker
#   single  every check of one installed server (the main run)
#   break   only the start check (the host broke a unit on purpose)
#   hub, worker  the two-container run; they meet through /twshared
#
# Talks to the daemons over their Unix sockets with curl and jq.
set -u
MODE=${1:-single}
OUT=/var/lib/twcheck/results.tap
mkdir -p /var/lib/twcheck
exec >"$OUT.tmp" 2>&1

DAEMONS="discoveryd simd migrated"
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { # check "description" command...: ok when the command succeeds
	local d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; return 1; fi
}
diag() { sed 's/^/# /'; }
finish() {
	echo "1..$n"
	mv -f "$OUT.tmp" "$OUT"
	exit 0
}
trap finish EXIT

# api DAEMON METHOD PATH [BODY]: the body of the answer on stdout, the status in $CODE.
api() {
	local d=$1 m=$2 p=$3 b=${4-} f
	f=$(mktemp)
	if [ -n "$b" ]; then
		CODE=$(curl -sS -m 30 -o "$f" -w '%{http_code}' --unix-socket "/run/tankworld/$d.sock" \
			-X "$m" -H 'Content-Type: application/json' -d "$b" "http://localhost$p")
	else
		CODE=$(curl -sS -m 30 -o "$f" -w '%{http_code}' --unix-socket "/run/tankworld/$d.sock" \
			-X "$m" "http://localhost$p")
	fi
	cat "$f"
	rm -f "$f"
}
# wait_for SECONDS command...: polls every 0.2 s until the command succeeds.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	while ! "$@"; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.2
	done
}
prop() { systemctl show -P "$2" "$1"; }
mainpid() { prop "tankworld-$1.service" MainPID; }
is_running() { [ "$(prop "$1" ActiveState)/$(prop "$1" SubState)" = active/running ]; }
healthy() { [ "$(api "$1" GET /health 2>/dev/null | jq -r .status 2>/dev/null)" = healthy ]; }
unit_diag() { # the unit's state and its last journal lines, as TAP comments
	systemctl status --no-pager -n 0 "$1" 2>&1 | diag
	journalctl -b --no-pager -q -n 8 -u "$1" 2>&1 | diag
	echo "its errors (journalctl -p err):" | diag
	journalctl -b --no-pager -q -p err -u "$1" 2>&1 | grep -v 'systemd\[1\]' | tail -n 4 | diag
}

# The start check: every service Type=notify, active and running (READY=1
# reached), every socket listening. A failure names the unit.
check_start() {
	local d u s
	wait_for 30 systemctl is-active -q tankworld.target tankworld-discoveryd.service \
		tankworld-simd.service tankworld-migrated.service
	check "tankworld.target is active" systemctl is-active -q tankworld.target
	for d in $DAEMONS; do
		u=tankworld-$d.service
		s=tankworld-$d.socket
		wait_for 20 is_running "$u"
		if [ "$(prop "$u" Type)" = notify ] && is_running "$u"; then
			ok "$u: Type=notify, active (running): READY=1 reached"
		else
			not_ok "$u: Type=notify, active (running) (got $(prop "$u" Type) $(prop "$u" ActiveState)/$(prop "$u" SubState), result $(prop "$u" Result))"
			unit_diag "$u"
		fi
		if [ "$(prop "$s" ActiveState)/$(prop "$s" SubState)" = active/running ] &&
			[ -S "/run/tankworld/$d.sock" ]; then
			ok "$s: listening on /run/tankworld/$d.sock"
		else
			not_ok "$s: listening on /run/tankworld/$d.sock (got $(prop "$s" ActiveState)/$(prop "$s" SubState))"
			unit_diag "$s"
		fi
		check "$u: GET /health on the Unix socket" healthy "$d"
	done
}

check_user_dirs() {
	check "sysusers created user and group tankworld" \
		sh -c 'getent passwd tankworld >/dev/null && getent group tankworld >/dev/null'
	local got
	got=$(stat -c '%F %a %U:%G' /run/tankworld 2>&1)
	check "/run/tankworld is a directory 0750 tankworld:tankworld (got $got)" \
		test "$got" = "directory 750 tankworld:tankworld"
	# The image was staged with DESTDIR, so it shipped no token:
	# tankworld-token.service made it at first boot, for this machine's group.
	got=$(stat -c '%a %U:%G' /etc/tankworld/token 2>&1)
	check "the cluster token was made at first boot: 640 root:tankworld (got $got)" \
		test "$got" = "640 root:tankworld"
	local f
	# discoveryd's registry file changed name once (registry.json, then
	# registry.journal): any registry file counts.
	f=$(ls -d /var/lib/tankworld/discovery/registry.* 2>/dev/null | head -1)
	check "state in ${f:-/var/lib/tankworld/discovery/registry.*}, owned by tankworld" \
		sh -c "test -n '$f' && test \"\$(stat -c %U '$f')\" = tankworld"
	for f in sim/summary.json migration; do
		check "state in /var/lib/tankworld/$f, owned by tankworld" \
			sh -c "test -e /var/lib/tankworld/$f && test \"\$(stat -c %U /var/lib/tankworld/$f)\" = tankworld"
	done
}

fish_of() { api simd GET "/api/tanks/$1/state" | jq -r '[.entities[] | select(.kind == "fish") | .id] | sort | join(",")'; }
all_fish() { local t; for t in $TANK_A $TANK_B; do fish_of "$t"; done; }
outbox_empty() { [ "$(api simd GET /api/outbox | jq -r '(.count // (.transfers | length) // (.outbox | length))' 2>/dev/null)" = 0 ]; }

# pass_until COND...: for wait_for. True once COND holds and the outbox is empty;
# otherwise, once the outbox is empty, runs another migration pass. A pass moves a
# plant instead of a fish now and then (migration.plant_weight is 1 by default, and the
# default tank has plants), so a check that needs a fish moved runs passes until one was.
pass_until() {
	"$@" && outbox_empty && return 0
	outbox_empty && api migrated POST /api/migrations/run >/dev/null
	return 1
}

# What migrated did last and what waits in the outbox, after a failed migration check.
transfers_diag() {
	api migrated GET '/api/transfers?limit=5' | head -c 1500 | diag
	api simd GET /api/outbox | head -c 600 | diag
}

# Two paused tanks and a connection between them. Paused tanks have no births
# and deaths, so their fish set stays fixed; fish still migrate.
setup_world() {
	TANK_A=$(api simd GET /api/tanks | jq -r .default_tank_id)
	api simd POST "/api/tanks/$TANK_A/pause" >/dev/null
	TANK_B=$(api simd POST /api/tanks '{"name":"Check B","seed":7,"max_fish":50,"initial_fish":5}' | jq -r .tank.tank_id)
	api simd POST "/api/tanks/$TANK_B/pause" >/dev/null
	check "simd: a second tank is created and both are paused ($TANK_A, $TANK_B)" \
		test "$(api simd GET /api/tanks | jq '[.tanks[] | select(.paused)] | length')" = 2
	api discoveryd POST /api/discovery/register \
		'{"server_id":"ghost","host":"198.18.0.99","port":8001}' >/dev/null
	check "discoveryd: a server registers (ghost)" \
		test "$(api discoveryd GET /api/discovery/servers/ghost | jq -r .server_id)" = ghost
	local before=$(all_fish)
	api migrated POST /api/connections \
		"{\"source_tank_id\":\"$TANK_A\",\"destination_tank_id\":\"$TANK_B\",\"probability\":100}" >/dev/null
	check "migrated: a connection is created ($CODE)" test "$CODE" = 201
	local nb=$(fish_of "$TANK_B" | tr , '\n' | grep -c .)
	moved() { [ "$(fish_of "$TANK_B" | tr , '\n' | grep -c .)" -gt "$nb" ]; }
	check "migrated -> simd through the sandbox: a fish migrated from A to B" \
		wait_for 20 pass_until moved || transfers_diag
	# Frozen from here on (the scheduler's own passes could otherwise move a
	# fish between the two reads): the connection stays, the fish stay put.
	local before_restart after
	api migrated POST /api/connections \
		"{\"source_tank_id\":\"$TANK_A\",\"destination_tank_id\":\"$TANK_B\",\"probability\":0}" >/dev/null
	api migrated POST /api/migrations/run >/dev/null # answers after any pass under way
	wait_for 20 outbox_empty
	after=$(all_fish | tr , '\n' | sort)
	if [ "$after" = "$(echo "$before" | tr , '\n' | sort)" ]; then
		ok "no fish lost or copied by the migration"
	else
		not_ok "no fish lost or copied by the migration"
		diff <(echo "$before" | tr , '\n' | sort) <(echo "$after") | head -n 10 | diag
		api simd GET /api/outbox | head -c 600 | diag
	fi
	before_restart=$(all_fish)
	# A crash rolls a tank back to its last snapshot plus the journal, and
	# pausing writes no snapshot: a clean restart (final snapshot) makes the
	# paused tanks the reference for the crash checks below.
	systemctl restart tankworld-simd.service
	wait_for 20 healthy simd
	check "simd: a clean restart keeps the paused tanks' fish" test "$(all_fish)" = "$before_restart"
	FISH=$(all_fish)
	CONNS=$(api migrated GET /api/connections | jq -c '[.connections[] | {id, probability}] | sort_by(.id)')
}

same_fish() { # same_fish WHAT: the fish of both tanks are still $FISH
	local now
	now=$(all_fish)
	if [ "$now" = "$FISH" ]; then
		ok "$1: the same fish"
	else
		not_ok "$1: the same fish"
		diff <(echo "$FISH" | tr , '\n') <(echo "$now" | tr , '\n') | head -n 10 | diag
	fi
}
registry_ids() { api discoveryd GET /api/discovery/servers | jq -r '[.servers[].server_id] | sort | join(",")'; }

# SIGKILL of each daemon: systemd restarts it (Restart=on-failure) and it
# comes back with the same fish, connections and registry.
check_restart() {
	local d u old new reg conns
	reg=$(registry_ids)
	for d in $DAEMONS; do
		u=tankworld-$d.service
		old=$(mainpid "$d")
		kill -KILL "$old"
		restarted() { new=$(mainpid "$d"); [ "$new" != 0 ] && [ "$new" != "$old" ] && is_running "$u"; }
		if wait_for 30 restarted && wait_for 20 healthy "$d"; then
			ok "$u: SIGKILL of $old -> restarted by systemd as $new, healthy"
		else
			not_ok "$u: SIGKILL of $old -> restarted by systemd"
			unit_diag "$u"
		fi
		wait_for 10 outbox_empty
		same_fish "after the restart of $d"
		conns=$(api migrated GET /api/connections | jq -c '[.connections[] | {id, probability}] | sort_by(.id)')
		check "after the restart of $d: the same connections" test "$conns" = "$CONNS"
		check "after the restart of $d: the same registry ($reg)" test "$(registry_ids)" = "$reg"
	done
}

# The watchdog: a daemon whose loop stops (SIGSTOP) stops petting; systemd
# aborts it and restarts it. A test drop-in shortens WatchdogSec. The three
# daemons are checked together.
check_watchdog() {
	local d u dir since
	for d in $DAEMONS; do
		dir=/run/systemd/system/tankworld-$d.service.d
		mkdir -p "$dir"
		printf '[Service]\nWatchdogSec=3s\nTimeoutAbortSec=3s\nLimitCORE=0\n' >"$dir/50-check-watchdog.conf"
	done
	systemctl daemon-reload
	systemctl restart tankworld-discoveryd.service tankworld-simd.service tankworld-migrated.service
	declare -A old
	for d in $DAEMONS; do
		u=tankworld-$d.service
		wait_for 20 is_running "$u"
		old[$d]=$(mainpid "$d")
		check "$u: WatchdogUSec is 3 s in the test" test "$(prop "$u" WatchdogUSec)" = 3s
	done
	since=$(date '+%Y-%m-%d %H:%M:%S')
	sleep 4 # petted for longer than WatchdogSec: still the same processes
	for d in $DAEMONS; do
		check "tankworld-$d.service: a live daemon pets the watchdog (same pid after 4 s)" \
			test "$(mainpid "$d")" = "${old[$d]}"
	done
	for d in $DAEMONS; do kill -STOP "${old[$d]}"; done
	for d in $DAEMONS; do
		u=tankworld-$d.service
		restarted() { local new=$(mainpid "$d"); [ "$new" != 0 ] && [ "$new" != "${old[$d]}" ] && is_running "$u"; }
		if wait_for 40 restarted; then
			ok "$u: stopped with SIGSTOP -> watchdog timeout, restarted as $(mainpid "$d")"
		else
			not_ok "$u: stopped with SIGSTOP -> watchdog timeout, restarted"
			kill -CONT "${old[$d]}" 2>/dev/null
			unit_diag "$u"
		fi
		check "$u: the journal names the watchdog timeout" \
			sh -c "journalctl -q --no-pager -u $u --since '$since' | grep -q 'Watchdog timeout'"
	done
	rm -rf /run/systemd/system/tankworld-*.service.d
	systemctl daemon-reload
	systemctl restart tankworld-discoveryd.service tankworld-simd.service tankworld-migrated.service
	wait_for 20 healthy migrated
	wait_for 10 outbox_empty
	same_fish "after the watchdog restarts"
}

status_of() { api discoveryd GET "/api/discovery/servers/$1" | jq -r .status; }

# Reload: a changed key applies without a restart; a broken file is refused
# and the running configuration stays.
check_reload() {
	local u=tankworld-discoveryd.service pid since
	pid=$(mainpid discoveryd)
	api discoveryd POST /api/discovery/register '{"server_id":"ghost2","host":"198.18.0.98","port":8001}' >/dev/null
	sleep 3
	check "before the reload: ghost2 silent for 3 s is online (heartbeat_timeout 90)" test "$(status_of ghost2)" = online
	printf '[discovery]\nheartbeat_interval = 1\nheartbeat_timeout = 2\n' >/etc/tankworld/tankworld.conf.d/60-check.conf
	since=$(date '+%Y-%m-%d %H:%M:%S')
	check "systemctl reload $u succeeds" systemctl reload "$u"
	check "after the reload: ghost2 is offline (heartbeat_timeout 2 applied)" wait_for 10 sh -c '[ "$(curl -s --unix-socket /run/tankworld/discoveryd.sock http://localhost/api/discovery/servers/ghost2 | jq -r .status)" = offline ]'
	check "the reload kept the process ($pid)" test "$(mainpid discoveryd)" = "$pid"
	check "the journal says the configuration was reloaded" \
		sh -c "journalctl -q --no-pager -u $u --since '$since' | grep -q 'configuration reloaded'"
	printf '[discovery]\nheartbeat_interval = 1\nheartbeat_timeout = 600\n[server]\nlog_level = loud\n' \
		>/etc/tankworld/tankworld.conf.d/60-check.conf
	since=$(date '+%Y-%m-%d %H:%M:%S')
	systemctl reload "$u"
	check "a broken config: the reload is refused in the journal" \
		wait_for 10 sh -c "journalctl -q --no-pager -u $u --since '$since' | grep -q 'reload failed, keeping the running configuration'"
	check "a broken config: the service stays active with the same process" \
		sh -c "[ \"\$(systemctl show -P MainPID $u)\" = $pid ] && systemctl is-active -q $u"
	api discoveryd POST /api/discovery/register '{"server_id":"ghost3","host":"198.18.0.97","port":8001}' >/dev/null
	check "a broken config: the running one is kept (ghost3 goes offline after 2 s, not 600 s)" \
		wait_for 10 sh -c '[ "$(curl -s --unix-socket /run/tankworld/discoveryd.sock http://localhost/api/discovery/servers/ghost3 | jq -r .status)" = offline ]'
	# The journal keeps priorities: the refusal is an error, the success notice is not.
	check "journalctl -p err shows the refused reload" \
		sh -c "journalctl -q --no-pager -p err -u $u | grep -q 'reload failed'"
	check "journalctl -p err leaves out the informational 'configuration reloaded'" \
		sh -c "! journalctl -q --no-pager -p err -u $u | grep -q 'configuration reloaded'"
	rm -f /etc/tankworld/tankworld.conf.d/60-check.conf
	systemctl reload "$u"
}

# Socket activation: the service stopped, its socket listening; a request
# on the Unix socket starts it and is answered. The daemons talk to each
# other over these sockets (migrated polls simd, both ask discoveryd), so a
# lone stopped service would be activated again at once by its siblings:
# stop all three, then wake them one at a time, the one nobody calls first.
check_activation() {
	local d u s
	systemctl stop tankworld-migrated.service tankworld-simd.service tankworld-discoveryd.service 2>/dev/null
	for d in $DAEMONS; do
		u=tankworld-$d.service
		s=tankworld-$d.socket
		if [ "$(prop "$u" ActiveState)" = inactive ] && systemctl is-active -q "$s" &&
			[ -S "/run/tankworld/$d.sock" ]; then
			ok "$u stopped, $s still listening"
		else
			not_ok "$u stopped, $s still listening (service $(prop "$u" ActiveState), socket $(prop "$s" ActiveState))"
		fi
	done
	for d in $DAEMONS; do
		u=tankworld-$d.service
		check "$d: a request on the Unix socket starts $u and is answered" healthy "$d"
		check "$u is active (running) again" wait_for 10 is_running "$u"
	done
	wait_for 10 outbox_empty
	same_fish "after socket activation"
}

# The viewer's static files, when this tree has them.
check_www() {
	local dir
	dir=$(ls -d "${TW_WWW:-/usr/local/share/tankworld/www}" 2>/dev/null)
	if [ -z "$dir" ]; then
		ok "simd serves the viewer's static files # SKIP no www/ installed by this tree"
		return
	fi
	local body
	body=$(api simd GET /)
	check "simd serves GET / from $dir through the sandbox ($CODE)" \
		sh -c "[ $CODE = 200 ] && echo \"\$0\" | grep -qi '<html'" "$body"
}

# Stop: the target stops all three cleanly within their timeout; simd writes
# a final snapshot.
all_stopped() {
	local d st
	for d in $DAEMONS; do
		st=$(prop "tankworld-$d.service" ActiveState)
		[ "$st" = inactive ] || [ "$st" = failed ] || return 1
	done
}

check_stop() {
	local t0 t1 d u snap before after
	snap=$(ls /var/lib/tankworld/sim/tanks/"$TANK_A"/snapshot.json)
	before=$(stat -c %Y.%y "$snap")
	sleep 1.1 # mtimes are compared, so make "after" distinguishable
	t0=$(date +%s.%N)
	systemctl stop tankworld.target
	# systemctl returns once the target's own stop job is done; the services it
	# propagated the stop to (PartOf=) may still be writing their final state. The
	# stop is over when all three are inactive (or failed).
	wait_for 60 all_stopped
	t1=$(date +%s.%N)
	for d in $DAEMONS; do
		u=tankworld-$d.service
		if [ "$(prop "$u" ActiveState)" = inactive ] && [ "$(prop "$u" Result)" = success ] &&
			[ "$(prop "$u" ExecMainStatus)" = 0 ]; then
			ok "$u: stopped cleanly (exit 0, result success)"
		else
			not_ok "$u: stopped cleanly (got $(prop "$u" ActiveState), result $(prop "$u" Result), status $(prop "$u" ExecMainStatus))"
			unit_diag "$u"
		fi
	done
	check "systemctl stop tankworld.target took $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") s (TimeoutStopSec 30)" \
		awk "BEGIN { exit !($t1 - $t0 < 30) }"
	after=$(stat -c %Y.%y "$snap")
	check "simd wrote a final snapshot on stop" test "$after" != "$before"
	check "the sockets are gone too (RemoveOnStop)" \
		sh -c '! ls /run/tankworld/*.sock 2>/dev/null | grep -q .'
}

# --- the two-container run: the hub and the worker meet in /twshared ---
SH=/twshared
TOKEN_HDR() { echo "Authorization: Bearer $(cat /etc/tankworld/cluster-token)"; }
remote() { # remote HOST PORT METHOD PATH [BODY]: over TCP, with the token
	local h=$1 p=$2 m=$3 path=$4 b=${5-}
	curl -sS -m 20 -X "$m" -H "$(TOKEN_HDR)" ${b:+-H 'Content-Type: application/json' -d "$b"} "http://$h:$p$path"
}

check_pair() {
	local me=$MODE peer peer_ip my_ip
	if [ "$me" = hub ]; then peer=worker; else peer=hub; fi
	my_ip=$(cat $SH/$me.ip)
	peer_ip=$(cat $SH/$peer.ip)
	wait_for 10 sh -c "ip -4 -o addr show | grep -q ' $my_ip/'"
	check "the container has its address $my_ip on the private network" \
		sh -c "ip -4 -o addr show | grep -q ' $my_ip/'" || { ip -o addr | diag; unit_diag tw-net.service; }
	check_start
	mark() { echo "# $me: $1 after $SECONDS s"; }
	mark "started"
	check "the peer $peer_ip answers /health on TCP 8000" \
		wait_for 30 sh -c "curl -s -m 5 http://$peer_ip:8000/health | grep -q healthy"
	servers() { [ "$(registry_ids)" = "hub,worker" ]; }
	check "the registry lists hub and worker (heartbeats over the network)" wait_for 30 servers
	mark "registered"
	local mytank
	mytank=$(api simd GET /api/tanks | jq -r .default_tank_id)
	api simd POST "/api/tanks/$mytank/pause" >/dev/null
	fish_of "$mytank" >$SH/$me.fish0.tmp && mv $SH/$me.fish0.tmp $SH/$me.fish0
	echo "$mytank" >$SH/$me.tank.tmp && mv $SH/$me.tank.tmp $SH/$me.tank
	wait_for 60 test -f $SH/$peer.tank || { not_ok "the peer published its tank"; return; }
	local peertank=$(cat $SH/$peer.tank)
	api migrated POST /api/connections \
		"{\"source_tank_id\":\"$mytank\",\"destination_tank_id\":\"$peertank\",\"destination_server_id\":\"$peer\",\"probability\":100}" >/dev/null
	check "connection to $peer/$peertank created ($CODE)" test "$CODE" = 201
	# One of this tank's first fish has left, so that fish change server both ways below.
	left() { [ -n "$(comm -23 <(tr , '\n' <$SH/$me.fish0 | grep . | sort) <(fish_of "$mytank" | tr , '\n' | grep . | sort))" ]; }
	check "a fish left for $peer" wait_for 30 pass_until left || transfers_diag
	committed() { [ "$(api migrated GET '/api/transfers?success_only=true&limit=100' | jq '[.transfers[]?] | length')" -ge 1 ]; }
	check "fish migrated to $peer over TCP (committed transfers)" wait_for 30 committed
	mark "migrated"
	# Freeze: no more migrations from this side, then wait for the outbox to drain.
	api migrated POST /api/connections \
		"{\"source_tank_id\":\"$mytank\",\"destination_tank_id\":\"$peertank\",\"destination_server_id\":\"$peer\",\"probability\":0}" >/dev/null
	api migrated POST /api/migrations/run >/dev/null # answers after any pass under way
	check "outbox drained" wait_for 30 outbox_empty
	touch $SH/$me.frozen
	wait_for 60 test -f $SH/$peer.frozen
	mark "both frozen"
	sleep 1
	fish_of "$mytank" >$SH/$me.fish1.tmp && mv $SH/$me.fish1.tmp $SH/$me.fish1
	if [ "$me" = hub ]; then
		wait_for 30 test -f $SH/worker.fish1
		local f0 f1
		f0=$(cat $SH/hub.fish0 $SH/worker.fish0 | tr , '\n' | grep . | sort)
		f1=$(cat $SH/hub.fish1 $SH/worker.fish1 | tr , '\n' | grep . | sort)
		check "exact conservation: the same $(echo "$f0" | wc -l) fish ids across both servers, none twice" \
			sh -c "[ \"\$0\" = \"\$1\" ] && [ -z \"\$(echo \"\$1\" | uniq -d)\" ]" "$f0" "$f1"
		check "fish changed server in both directions" \
			sh -c "[ \"\$(cat $SH/hub.fish0)\" != \"\$(cat $SH/hub.fish1)\" ] && [ \"\$(cat $SH/worker.fish0)\" != \"\$(cat $SH/worker.fish1)\" ]"
		if [ "$failed" -gt 0 ]; then
			diag <<<"fish counts before: hub $(tr , '\n' <$SH/hub.fish0 | grep -c .), worker $(tr , '\n' <$SH/worker.fish0 | grep -c .); after: hub $(tr , '\n' <$SH/hub.fish1 | grep -c .), worker $(tr , '\n' <$SH/worker.fish1 | grep -c .)"
		fi
		touch $SH/done
	else
		wait_for 60 test -f $SH/done
	fi
	systemctl stop tankworld.target
	wait_for 60 all_stopped # the services finish after the target (see check_stop)
	for d in $DAEMONS; do
		check "tankworld-$d.service stopped cleanly" \
			sh -c "[ \"\$(systemctl show -P ActiveState tankworld-$d.service)\" = inactive ] &&
				[ \"\$(systemctl show -P Result tankworld-$d.service)\" = success ]"
	done
}

case $MODE in
single)
	for phase in check_start check_user_dirs setup_world check_restart check_activation \
		check_reload check_watchdog check_www check_stop; do
		t0=$SECONDS
		$phase
		echo "# $phase: $((SECONDS - t0)) s"
	done
	# The host edits nothing: this edit proves that "make uninstall" keeps an
	# operator's configuration.
	echo "# edited by the operator" >>/etc/tankworld/tankworld.conf
	;;
break)
	check_start
	;;
hub | worker)
	check_pair
	;;
esac
