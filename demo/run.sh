#!/usr/bin/env bash
# The tankworld demo: builds the daemons, starts a hub and two worker servers on
# loopback (each server is discoveryd + simd + migrated with its own state and
# runtime directories), and shows them registering, then (when simd and migrated are
# built) tanks, connections and a live line per migration. Ctrl-C stops everything.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/_build/demo"
# A tree configured in place (a developer's) cannot also build out of tree.
[ -f "$top/config.status" ] && build="$top"
root=${TANKWORLD_DEMO_DIR:-/tmp/tankworld-demo}
interval=${DEMO_INTERVAL:-1}

if [ ! -x "$build/discoveryd/discoveryd" ] || [ "${DEMO_REBUILD:-1}" = 1 ]; then
	echo "demo: building in $build"
	[ -x "$top/configure" ] || "$top/bootstrap" || exit 1
	mkdir -p "$build"
	(cd "$build" && { [ -f Makefile ] || "$top/configure" -q; } && make -j2 >/dev/null) || {
		echo "demo: build failed" >&2
		exit 1
	}
fi

rm -rf "$root"
mkdir -p "$root"
pids=()
cleanup() {
	trap - INT TERM EXIT
	echo
	echo "demo: stopping ${#pids[@]} daemons"
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	echo "demo: stopped; logs and state are in $root"
	exit 0
}
trap cleanup INT TERM EXIT

servers="hub:7100 worker-1:7200 worker-2:7300"
daemons="discoveryd"
for d in simd migrated; do [ -x "$build/$d/$d" ] && daemons="$daemons $d"; done

for s in $servers; do
	id=${s%%:*}
	port=${s##*:}
	dir="$root/$id"
	mkdir -p "$dir"
	hub=""
	[ "$id" != hub ] && hub="hub_url = http://127.0.0.1:7100"
	cat > "$dir/tankworld.conf" <<CONF
[server]
server_id = $id
base_port = $port
advertise_host = 127.0.0.1
state_dir = $dir/state
runtime_dir = $dir/run
[discovery]
$hub
heartbeat_interval = $interval
heartbeat_timeout = $((interval * 3))
[migration]
check_interval = 2
CONF
	for d in $daemons; do
		"$build/$d/$d" -c "$dir/tankworld.conf" >"$dir/$d.log" 2>&1 &
		pids+=($!)
	done
done

echo "demo: ${#pids[@]} daemons started under $root ($daemons on 3 servers)"
hub_sock="$root/hub/run/discoveryd.sock"
for _ in $(seq 50); do [ -S "$hub_sock" ] && break; sleep 0.1; done
sleep $((interval + 1))

echo "demo: servers known to the hub:"
curl -s --unix-socket "$hub_sock" http://localhost/api/discovery/servers |
	jq -r '.servers[] | "  \(.server_id)\t\(.status)\thost \(.host) simd port \(.port)\tlocal=\(.is_local)"'

if [ -x "$top/demo/network.sh" ] && [ -x "$build/simd/simd" ] && [ -x "$build/migrated/migrated" ]; then
	exec "$top/demo/network.sh" "$root"
fi

echo "demo: simd and migrated are not built yet; watching heartbeats (Ctrl-C stops)"
while sleep 5; do
	curl -s --unix-socket "$hub_sock" http://localhost/api/discovery/servers |
		jq -r '[.servers[] | "\(.server_id)=\(.status)"] | join("  ")'
done
