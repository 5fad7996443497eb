#!/usr/bin/env python3
"""Configuration reaches its users: each rate limit and timing key, set in the config
file (not through a unit function), changes what the running daemons do.

migration: max_per_second, per_connection_per_second and check_interval bound the local
moves a connection with probability 100 makes; discovery: heartbeat_interval sets how
often a worker's heartbeat lands on the hub, heartbeat_timeout when a silent worker goes
offline and evict_after when it is removed; sim: tick_rate sets the frame rate and
snapshot_interval how often snapshots are written, max_tanks and max_fish_total which
tanks are refused. Counts, not timings, are asserted,
with margins wide enough for a loaded machine."""
import os
import shutil
import signal
import time

from migratedlib import Cluster, metric, migrated_built, simd_built
from twlib import Tap, tmpdir, wait_until

if not simd_built() or not migrated_built():
    print("1..0 # SKIP daemons not built")
    raise SystemExit(0)

t = Tap()
root = tmpdir("twce")
clusters = []


def cluster(name, n, extra):
    d = os.path.join(root, name)
    os.makedirs(d)
    # Each server's config file carries the keys under test: Daemon writes base keys,
    # the Cluster's extra becomes --set, so append ours to the file itself instead.
    cl = Cluster(d, n, "effects-token-0123456789abcdef")
    for s in cl.servers:  # the server's three daemons share one config file
        with open(s.disc.conf, "a") as f:
            for sec in sorted({k.split(".")[0] for k in extra}):
                f.write("[%s]\n" % sec)
                for k, v in extra.items():
                    if k.startswith(sec + "."):
                        f.write("%s = %s\n" % (k.split(".", 1)[1], v))
        for dm in (s.disc, s.sim, s.mig):
            for k in extra:
                dm.extra.pop(k, None)
    clusters.append(cl)
    return cl.start()


def moves_in(extra, seconds=4.0):
    """Local moves made in `seconds` by one probability-100 connection."""
    cl = cluster("m%d" % len(clusters), 1, extra)
    s = cl.servers[0]
    a = s.create_tank("from", 200, max_fish=500)
    b = s.create_tank("to", 0, max_fish=500)
    r = s.mig.post("/api/connections", {"sourceId": a, "destinationId": b, "probability": 100,
                                        "direction": "right"})
    if r.status not in (200, 201):
        raise RuntimeError("cannot connect: %r" % r)
    m0 = metric(s.mig, "tankworld_migration_local_moves_total") or 0
    p0 = metric(s.mig, "tankworld_migration_passes_total") or 0
    time.sleep(seconds)
    m1 = metric(s.mig, "tankworld_migration_local_moves_total")
    p1 = metric(s.mig, "tankworld_migration_passes_total")
    cl.stop()
    return m1 - m0, p1 - p0


try:
    fast = {"migration.check_interval": "0.05", "migration.max_per_second": "1000",
            "migration.per_connection_per_second": "1000"}
    free_moves, free_passes = moves_in(fast)
    t.ok(free_moves >= 20, "unlimited: a pass every 0.05 s moves a fish each time (%d moves)" % free_moves)

    g = dict(fast, **{"migration.max_per_second": "1"})
    moves, _ = moves_in(g)
    t.ok(moves <= 7, "max_per_second = 1 from the file caps moves (%d in 4 s)" % moves)

    c = dict(fast, **{"migration.per_connection_per_second": "1"})
    moves, _ = moves_in(c)
    t.ok(moves <= 7, "per_connection_per_second = 1 from the file caps moves (%d in 4 s)" % moves)

    slow = dict(fast, **{"migration.check_interval": "2"})
    moves, passes = moves_in(slow)
    t.ok(passes <= 4 and moves <= 4, "check_interval = 2 from the file: %d passes, %d moves in 4 s" % (passes, moves))
    t.ok(free_passes >= 4 * passes, "and 0.05 runs many more passes (%d against %d)" % (free_passes, passes))

    # discovery timing: a hub and a worker, heartbeats every 0.2 s, offline after 1.5 s,
    # removed after 3 s.
    cl = cluster("disc", 2, {"discovery.heartbeat_interval": "0.2", "discovery.heartbeat_timeout": "1.5",
                             "discovery.evict_after": "3"})
    hub, w = cl.servers

    def beat():
        for x in hub.disc.get("/api/discovery/servers").json()["servers"]:
            if x["server_id"] == w.id:
                return x["last_heartbeat_at"], x["status"]
        return None, None
    seen = set()
    deadline = time.time() + 2.0
    while time.time() < deadline:
        seen.add(beat()[0])
        time.sleep(0.05)
    t.ok(len(seen) >= 5, "heartbeat_interval = 0.2: %d distinct heartbeats on the hub in 2 s" % len(seen))
    w.disc.signal(signal.SIGSTOP)
    t0 = time.time()
    went = wait_until(lambda: beat()[1] == "offline", 10, 0.05)
    off_after = time.time() - t0
    t.ok(went and 1.0 <= off_after <= 4.0, "heartbeat_timeout = 1.5: offline after %.1f s" % off_after)
    gone = wait_until(lambda: beat() == (None, None), 15, 0.05)
    gone_after = time.time() - t0
    t.ok(gone and gone_after <= 8.0, "evict_after = 3: removed after %.1f s" % gone_after)
    w.disc.signal(signal.SIGCONT)
    cl.stop()

    # sim timing: tick_rate and snapshot_interval.
    cl = cluster("sim", 1, {"sim.tick_rate": "5", "sim.snapshot_interval": "0.5"})
    s = cl.servers[0]
    tid = s.create_tank("ticks", 5, paused=False)
    f0 = s.sim.get("/api/tanks/%s" % tid).json()["frame"]
    snaps = set()
    tdir = os.path.join(s.sim.state_dir, "sim", "tanks", tid)
    deadline = time.time() + 3.0
    while time.time() < deadline:
        try:
            for n in os.listdir(tdir):
                st = os.stat(os.path.join(tdir, n))
                snaps.add((n, st.st_mtime_ns))
        except OSError:
            pass
        time.sleep(0.05)
    f1 = s.sim.get("/api/tanks/%s" % tid).json()["frame"]
    t.ok(8 <= f1 - f0 <= 25, "tick_rate = 5: %d frames in 3 s" % (f1 - f0))
    t.ok(len(snaps) >= 4, "snapshot_interval = 0.5: the tank's files were rewritten %d times in 3 s" % len(snaps))
    cl.stop()

    # sim limits: max_tanks and max_fish_total refuse a tank that would pass them, with
    # a JSON 409 that names the key, and change nothing (the cluster's first tank counts).
    cl = cluster("limits", 1, {"sim.max_tanks": "3", "sim.max_fish_total": "600"})
    s = cl.servers[0]

    def count():
        return s.sim.get("/api/tanks").json()["count"]
    n0 = count()
    r = s.sim.post("/api/tanks", {"name": "big", "max_fish": 600})
    t.ok(r.status == 409 and r.json().get("code") == "too_many_fish"
         and "sim.max_fish_total" in r.json().get("error", "") and count() == n0,
         "max_fish_total = 600: a tank of 600 beside the first is refused, nothing created", r)
    made = [s.create_tank("t%d" % i, 0, max_fish=100) for i in range(3 - n0)]
    r = s.sim.post("/api/tanks", {"name": "one more", "max_fish": 1})
    t.ok(r.status == 409 and r.json().get("code") == "too_many_tanks"
         and "sim.max_tanks 3" in r.json().get("error", "") and count() == 3,
         "max_tanks = 3: a fourth tank is refused", r)
    t.eq(s.sim.delete("/api/tanks/%s" % made[-1]).status, 200, "one tank deleted")
    r = s.sim.post("/api/tanks", {"name": "again", "max_fish": 1})
    t.eq(r.status, 201, "then there is room again")
    cl.stop()
finally:
    for cl in clusters:
        for s in cl.servers:
            for d in (s.mig, s.sim, s.disc):
                if d.alive():
                    d.signal(signal.SIGCONT)
                    d.kill9()
    shutil.rmtree(root, ignore_errors=True)
t.done()
