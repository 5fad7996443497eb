#!/usr/bin/env bash
# The tankworld demo: builds the daemons, starts a hub and two worker servers on
# loopback (each server is one `tankworld`, which runs and supervises its discoveryd,
# simd and migrated, with its own state and runtime directories), and shows them
# registering, then tanks, connections and a live line per migration. Ctrl-C stops
# everything.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/_build/demo"
# A tree configured in place (a developer's) cannot also build out of tree.
[ -f "$top/config.status" ] && build="$top"
root=${TANKWORLD_DEMO_DIR:-/tmp/tankworld-demo}
interval=${DEMO_INTERVAL:-1}

if [ ! -x "$build/tankworld/tankworld" ] || [ "${DEMO_REBUILD:-1}" = 1 ]; then
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
	echo "demo: stopping ${#pids[@]} servers"
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	echo "demo: stopped; logs and state are in $root"
	exit 0
}
trap cleanup INT TERM EXIT

# One cluster token for the demo network: without it TCP would be read-only, and the
# servers' heartbeats and fish travel over TCP. Readable by this user only.
token_file="$root/token"
if [ ! -s "$token_file" ]; then
	(umask 077 && od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$token_file" && echo >>"$token_file")
fi
chmod 0600 "$token_file"
token=$(cat "$token_file")

servers="hub:7100 worker-1:7200 worker-2:7300"

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
[security]
token_file = $token_file
CONF
	# One command per server: tankworld restarts a daemon that dies and prefixes each
	# line of the log with the daemon's name.
	"$build/tankworld/tankworld" -c "$dir/tankworld.conf" >"$dir/tankworld.log" 2>&1 &
	pids+=($!)
done

echo "demo: 3 servers started under $root (tankworld, each running discoveryd, simd and migrated)"
hub_sock="$root/hub/run/discoveryd.sock"
for _ in $(seq 50); do [ -S "$hub_sock" ] && break; sleep 0.1; done
sleep $((interval + 1))

echo "demo: servers known to the hub:"
curl -s --unix-socket "$hub_sock" http://localhost/api/discovery/servers |
	jq -r '.servers[] | "  \(.server_id)\t\(.status)\thost \(.host) simd port \(.port)\tlocal=\(.is_local)"'

# --- the network: tanks and connections -------------------------------------------
api() { # api SERVER DAEMON METHOD PATH [BODY]
	local sock="$root/$1/run/$2.sock"
	if [ -n "${5:-}" ]; then
		curl -s --unix-socket "$sock" -X "$3" -H 'Content-Type: application/json' \
			"http://localhost$4" -d "$5"
	else
		curl -s --unix-socket "$sock" -X "$3" "http://localhost$4"
	fi
}
for s in hub worker-1 worker-2; do
	for _ in $(seq 50); do [ -S "$root/$s/run/simd.sock" ] && [ -S "$root/$s/run/migrated.sock" ] && break; sleep 0.1; done
done
declare -A tank
for s in hub worker-1 worker-2; do
	tank[$s]=$(api "$s" simd GET /api/tanks | jq -r '.default_tank_id')
done
tank[hub-2]=$(api hub simd POST /api/tanks '{"name":"Lagoon","initial_fish":6}' | jq -r '.tank.tank_id')

connect() { # connect SRC_SERVER SRC_TANK DST_SERVER DST_TANK DIRECTION
	local body
	body=$(jq -nc --arg s "$2" --arg d "$4" --arg ds "$3" --arg dir "$5" \
		'{source_tank_id:$s, destination_tank_id:$d, destination_server_id:$ds, probability:60, direction:$dir}')
	api "$1" migrated POST /api/connections "$body" |
		jq -r '"demo: connection \(.sourceServerId // "?")/\(.sourceId[0:8]) -> \(.destinationServerId // "?")/\(.destinationId[0:8]) (\(.direction), \(.probability)%)" // .error'
}
# A ring across the three servers, and a local pair on the hub.
connect hub "${tank[hub]}" worker-1 "${tank[worker-1]}" right
connect worker-1 "${tank[worker-1]}" worker-2 "${tank[worker-2]}" right
connect worker-2 "${tank[worker-2]}" hub "${tank[hub]}" right
connect hub "${tank[hub]}" hub "${tank[hub-2]}" left
connect hub "${tank[hub-2]}" hub "${tank[hub]}" right

name_of() {
	case "$1" in
	"${tank[hub]}") echo "hub/Tank-1" ;;
	"${tank[hub-2]}") echo "hub/Lagoon" ;;
	"${tank[worker-1]}") echo "worker-1/Tank-1" ;;
	"${tank[worker-2]}") echo "worker-2/Tank-1" ;;
	*) echo "${1:0:8}" ;;
	esac
}

# The web viewer of each server: its simd serves it (port base+1). With a cluster token
# the URL carries it in its fragment, which the page keeps for the session.
viewer_url() { # viewer_url SERVER [HASH]
	local port tf token=""
	port=$(sed -n 's/^base_port *= *//p' "$root/$1/tankworld.conf")
	tf=$(sed -n 's/^token_file *= *//p' "$root/$1/tankworld.conf")
	[ -n "$tf" ] && [ -r "$tf" ] && token=$(head -n1 "$tf")
	printf 'http://127.0.0.1:%s/%s' "$((port + 1))" "${2:-#/}"
	[ -n "$token" ] && printf '?token=%s' "$token"
	echo
}
echo
echo "demo: open the viewer in a browser:"
for s in hub worker-1 worker-2; do
	printf '  %-9s %s\n' "$s" "$(viewer_url "$s")"
done
printf '  %-9s %s\n' "network" "$(viewer_url hub '#/network')"
echo

echo "demo: fish now migrate every few seconds; one line per migration (Ctrl-C stops)"
declare -A seen
tick=0
while sleep 1; do
	for s in hub worker-1 worker-2; do
		# No field is empty: read with a tab as IFS merges empty fields, and a refused
		# move inside a server names no entity (simd had not picked one).
		while IFS=$'\t' read -r tid kind fish src dst state; do
			[ -n "$tid" ] || continue
			[ -n "${seen[$tid]:-}" ] && continue
			seen[$tid]=1
			printf '%s  %-5s %-8s  %-16s -> %-16s %s\n' "$(date +%H:%M:%S)" "$kind" "${fish:0:8}" \
				"$(name_of "$src")" "$(name_of "$dst")" "$state"
		done < <(api "$s" migrated GET "/api/transfers?limit=100" |
			jq -r '.transfers | reverse | .[] | select(.state != "pending") |
				[.transfer_id, (.entity_type // "fish"), ((.entity_old_id // "") | if . == "" then "-" else . end),
				 .source_tank_id, .destination_tank_id, .state] | @tsv')
	done
	tick=$((tick + 1))
	if [ $((tick % 15)) -eq 0 ]; then
		line="demo: population"
		for k in hub hub-2 worker-1 worker-2; do
			srv=$k
			[ "$k" = hub-2 ] && srv=hub
			n=$(api "$srv" simd GET "/api/tanks/${tank[$k]}" | jq -r '.stats.fish_count')
			line="$line  $(name_of "${tank[$k]}")=$n"
		done
		echo "$line"
	fi
done
