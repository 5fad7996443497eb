#!/usr/bin/env python3
"""Three servers, each in its own network namespace joined by veth links to a bridge
(a hub and two workers), run the status document's hub scenario for real across a
network: auto-registration, heartbeats, remote migration both ways, a worker cut off
(link down) and healed, and a hub restart. Workers must rejoin by themselves, the
registry statuses must follow, and at the end (tanks paused, nothing in flight) every
fish id must be in exactly one place.

Addresses come from 198.18.0.0/15, the range set aside for network tests, and exist
only inside the namespaces this test creates. Needs root (ip netns); says so and
skips otherwise."""
import os
import shutil
import subprocess
import sys
import time

from twlib import BUILD, Daemon, Tap, tmpdir, wait_until, write_token

def skip(why):
    print("1..0 # SKIP " + why)
    sys.exit(0)

if os.geteuid() != 0:
    skip("network namespaces need root")
if not shutil.which("ip"):
    skip("iproute2 (ip) is not installed")
for d in ("discoveryd", "simd", "migrated"):
    if not os.path.exists(os.path.join(BUILD, d, d)):
        skip(d + " is not built")
probe = subprocess.run(["ip", "netns", "add", "twmh%d-probe" % os.getpid()], capture_output=True)
if probe.returncode != 0:
    skip("cannot create network namespaces here: " + probe.stderr.decode().strip())
subprocess.run(["ip", "netns", "del", "twmh%d-probe" % os.getpid()])

t = Tap()
root = tmpdir("twmh")
# Namespace names are global: a pid in them keeps two runs at once apart.
TAG = "twmh%d" % os.getpid()
SW = TAG + "-sw"
HOSTS = [("hub", "198.18.7.1"), ("w1", "198.18.7.2"), ("w2", "198.18.7.3")]
NS = {h: TAG + "-" + h for h, _ in HOSTS}
token = "multihost-token-0123456789abcdef"
write_token(os.path.join(root, "token"), token)


def sh(*args):
    r = subprocess.run(list(args), capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(args), r.stderr.strip()))
    return r.stdout


def teardown_net():
    for ns in list(NS.values()) + [SW]:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def setup_net():
    teardown_net()
    sh("ip", "netns", "add", SW)
    sh("ip", "-n", SW, "link", "add", "br0", "type", "bridge")
    sh("ip", "-n", SW, "link", "set", "br0", "up")
    for h, addr in HOSTS:
        ns = NS[h]
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "link", "add", "twmh-" + h, "netns", ns, "type", "veth", "peer", "name", "p-" + h, "netns", SW)
        sh("ip", "-n", ns, "addr", "add", addr + "/24", "dev", "twmh-" + h)
        sh("ip", "-n", ns, "link", "set", "twmh-" + h, "up")
        sh("ip", "-n", SW, "link", "set", "p-" + h, "master", "br0")
        sh("ip", "-n", SW, "link", "set", "p-" + h, "up")


def link(h, up):
    sh("ip", "-n", SW, "link", "set", "p-" + h, "up" if up else "down")


servers = {}
try:
    setup_net()
    # Every namespace reaches the others across the bridge before any daemon starts:
    # a TCP connect to a closed port is refused (reachable), not timed out.
    probe = ("import socket,sys\ns=socket.socket();s.settimeout(3)\n"
             "try:\n s.connect((sys.argv[1],9))\nexcept ConnectionRefusedError:\n sys.exit(0)\n"
             "except OSError:\n sys.exit(1)\n")
    reach = []
    for h, _ in HOSTS:
        for g, addr in HOSTS:
            if g != h:
                r = subprocess.run(["ip", "netns", "exec", NS[h], sys.executable, "-c", probe, addr],
                                   capture_output=True)
                reach.append((h, g, r.returncode))
    t.eq([x for x in reach if x[2] != 0], [], "three namespaces on a bridge reach each other")
    for h, addr in HOSTS:
        conf = ("[server]\nserver_id = %s\nbase_port = 8000\nadvertise_host = %s\nstate_dir = %s/%s/state\n"
                "runtime_dir = %s/%s/run\nlog_level = info\n[discovery]\nlisten = %s:8000\nheartbeat_interval = 0.5\n"
                "heartbeat_timeout = 2\n%s[sim]\nlisten = %s:8001\nsnapshot_interval = 1\n[migration]\n"
                "listen = %s:8002\ncheck_interval = 0.5\nrequest_timeout = 2\n[security]\ntoken_file = %s/token\n"
                % (h, addr, root, h, root, h, addr,
                   "" if h == "hub" else "hub_url = http://198.18.7.1:8000\n", addr, addr, root))
        ds = []
        for name in ("discoveryd", "simd", "migrated"):
            d = Daemon(name, os.path.join(root, h), h, 8000, conf_text=conf)
            ds.append(d)
        servers[h] = ds
    import twlib
    for h, _ in HOSTS:
        twlib.WRAPPER = ["ip", "netns", "exec", NS[h]] + [w for w in os.environ.get("TEST_WRAPPER", "").split() if w]
        for d in servers[h]:
            d.start()
    twlib.WRAPPER = []
    disc = {h: servers[h][0] for h, _ in HOSTS}
    simd = {h: servers[h][1] for h, _ in HOSTS}
    mig = {h: servers[h][2] for h, _ in HOSTS}

    def statuses(h):
        return {s["server_id"]: s["status"] for s in disc[h].get("/api/discovery/servers").json()["servers"]}

    ok = wait_until(lambda: statuses("hub") == {"hub": "online", "w1": "online", "w2": "online"}, 5)
    t.ok(ok, "workers registered with the hub across the network", statuses("hub"))
    t.ok(wait_until(lambda: set(statuses("w1")) == {"hub", "w1", "w2"}, 5), "w1 learned w2 through the hub", statuses("w1"))
    hosts = {s["server_id"]: s["host"] for s in disc["hub"].get("/api/discovery/servers").json()["servers"]}
    t.eq(hosts, {"hub": "198.18.7.1", "w1": "198.18.7.2", "w2": "198.18.7.3"}, "advertised hosts are the namespace addresses")

    tank = {}
    for h, _ in HOSTS:
        for tk in simd[h].get("/api/tanks").json()["tanks"]:
            simd[h].post("/api/tanks/%s/pause" % tk["tank"]["tank_id"])
        tank[h] = simd[h].post("/api/tanks", {"name": "mh-" + h, "initial_fish": 20, "max_fish": 200,
                                              "paused": True}).json()["tank"]["tank_id"]

    def all_fish():
        out = []
        for h, _ in HOSTS:
            for tk in simd[h].get("/api/tanks").json()["tanks"]:
                st = simd[h].get("/api/tanks/%s/state" % tk["tank"]["tank_id"]).json()
                out += [e["id"] for e in st["entities"] if e["kind"] == "fish"]
            out += [x["fish_id"] for x in simd[h].get("/api/outbox").json()["transfers"]]
        return sorted(out)

    def tank_counts():
        return {s["server_id"]: s["tank_count"] for s in disc["hub"].get("/api/discovery/servers").json()["servers"]}
    t.ok(wait_until(lambda: tank_counts() == {"hub": 2, "w1": 2, "w2": 2}, 10),
         "every ServerInfo advertises its simd's tank count", tank_counts())
    initial = all_fish()
    ring = [("w1", "w2"), ("w2", "hub"), ("hub", "w1")]
    for a, b in ring:
        r = mig[a].post("/api/connections", {"source_tank_id": tank[a], "destination_tank_id": tank[b],
                                             "destination_server_id": b, "probability": 100, "direction": "right"})
        t.ok(r.status in (200, 201), "connection %s -> %s" % (a, b), r)

    def arrivals(h):
        return simd[h].get("/api/tanks/%s" % tank[h]).json()["stats"]["migrations_in"]

    t.ok(wait_until(lambda: all(arrivals(h) >= 3 for h, _ in HOSTS), 15), "fish migrate around the ring",
         {h: arrivals(h) for h, _ in HOSTS})

    # Cut w1 off: the hub sees it degrade then go offline; fish bound for it wait.
    link("w1", False)
    t.ok(wait_until(lambda: statuses("hub").get("w1") == "offline", 6), "w1 cut off: offline on the hub", statuses("hub"))
    t.ok(wait_until(lambda: statuses("w1").get("hub") == "offline", 6), "and the hub offline as seen from w1", statuses("w1"))
    before = arrivals("w1")
    time.sleep(1.5)
    link("w1", True)
    t.ok(wait_until(lambda: statuses("hub").get("w1") == "online", 5), "w1 healed: online again by itself", statuses("hub"))
    t.ok(wait_until(lambda: arrivals("w1") > before, 15), "deliveries to w1 resume after the heal")

    # Hub restart (kill -9): it keeps its registry, and migration goes on.
    for d in servers["hub"]:
        d.kill9()
    twlib.WRAPPER = ["ip", "netns", "exec", NS["hub"]]
    for d in servers["hub"]:
        d.start()
    twlib.WRAPPER = []
    t.ok(wait_until(lambda: statuses("hub") == {"hub": "online", "w1": "online", "w2": "online"}, 5),
         "hub restarted after kill -9: every worker online", statuses("hub"))
    h0 = arrivals("hub")
    t.ok(wait_until(lambda: arrivals("hub") > h0, 15), "migration into the restarted hub resumes")

    # Quiesce: delete connections, let the outboxes drain, audit.
    for a, b in ring:
        mig[a].delete("/api/connections/%s" % ("%s-%%3E%s" % (tank[a], tank[b])))
    for h, _ in HOSTS:
        for c in mig[h].get("/api/connections").json()["connections"]:
            mig[h].delete("/api/connections/" + c["id"].replace(">", "%3E"))
    drained = wait_until(lambda: sum(simd[h].get("/api/outbox").json()["count"] for h, _ in HOSTS) == 0, 20)
    t.ok(drained, "nothing left in flight after quiescence")
    final = all_fish()
    dups = sorted({x for x in final if final.count(x) > 1})
    t.eq(dups, [], "no fish id in two places")
    t.eq(sorted(set(initial) - set(final)), [], "no fish lost")
    t.eq(final, initial, "every fish id exactly once across the three servers")
    tankctl = os.path.join(BUILD, "tankctl", "tankctl")
    if os.path.exists(tankctl):
        # From inside the hub's namespace, where the other servers are reachable.
        r = subprocess.run(["ip", "netns", "exec", NS["hub"], tankctl, "-c", disc["hub"].conf, "audit"],
                           capture_output=True, text=True, timeout=60)
        t.ok(r.returncode == 0 and "0 duplicated" in r.stdout, "tankctl audit agrees", r.stdout + r.stderr)
    for h, _ in HOSTS:
        for d in servers[h]:
            t.eq(d.stop(), 0, "%s on %s exits 0" % (d.name, h))
finally:
    for ds in servers.values():
        for d in ds:
            if d.alive():
                d.kill9()
    if t.failed:
        for ds in servers.values():
            for d in ds:
                t.diag("--- %s %s\n%s" % (d.server_id, d.name, d.log_tail(8)))
    teardown_net()
    shutil.rmtree(root, ignore_errors=True)
t.done()
