#!/usr/bin/env python3
"""Each daemon runs clean under valgrind: a short session of real requests (a tank,
a transfer between two simd, a registration), then SIGTERM; valgrind must report no
errors and no definite leaks. Skipped in the sanitizer build (the two do not mix)."""
import os
import uuid

from twlib import VALGRIND, Daemon, Tap, base_ports, finish, tmpdir, valgrind_or_skip

valgrind_or_skip()

t = Tap()
root = tmpdir("twvg")
p1, p2, p3 = base_ports(3)
extra = {"sim.snapshot_interval": "1", "sim.tick_rate": "10"}


disc = Daemon("discoveryd", os.path.join(root, "d"), "vg-hub", p1)
a = Daemon("simd", os.path.join(root, "a"), "vg-a", p1, extra=dict(extra))
b = Daemon("simd", os.path.join(root, "b"), "vg-b", p2, extra=dict(extra))
# A worker of two hubs, one of them dead: several hubs, diffs by page, the journal.
worker = Daemon("discoveryd", os.path.join(root, "w"), "vg-worker", p3,
                extra={"discovery.hub_url": "http://127.0.0.1:%d, http://127.0.0.1:%d" % (p1, p3 + 1),
                       "discovery.heartbeat_interval": "0.2", "discovery.heartbeat_timeout": "1"})
daemons = [disc, a, b, worker]
mig = None
if os.path.exists(os.path.join(os.environ.get("abs_top_builddir", "."), "migrated", "migrated")):
    mig = Daemon("migrated", os.path.join(root, "a"), "vg-a", p1)
    daemons.append(mig)
try:
    for d in daemons:
        d.start(wrapper=VALGRIND)
    disc.post("/api/discovery/register", {"server_id": "peer", "host": "127.0.0.1", "port": 1})
    disc.post("/api/discovery/heartbeat/peer")
    disc.get("/api/discovery/servers")
    disc.get("/metrics")
    disc.get("/api/discovery/servers?since=0&limit=1")
    disc.get("/api/discovery/servers?since=1&epoch=0000000000000000")
    import time
    from twlib import wait_until
    t.ok(wait_until(lambda: "peer" in worker.get("/api/discovery/servers").body, 20),
         "the worker under valgrind learned the hub's list")
    worker.get("/health")
    disc.delete("/api/discovery/unregister/peer")
    time.sleep(1)
    disc.post("/api/discovery/register", raw=b"{broken")
    ta = a.post("/api/tanks", {"name": "vg", "initial_fish": 5, "paused": True}).json()["tank"]["tank_id"]
    tb = b.post("/api/tanks", {"name": "vg", "initial_fish": 0, "paused": True}).json()["tank"]["tank_id"]
    r = a.post("/api/outbox/reserve", {"source_tank_id": ta, "destination_server_id": "vg-b", "destination_tank_id": tb}).json()
    body = {"transfer_id": r["transfer_id"], "destination_tank_id": tb, "source_server_id": "vg-a",
            "source_tank_id": ta, "entity_data": r["entity_data"]}
    b.post("/api/remote-transfer", body)
    b.post("/api/remote-transfer", body)
    a.post("/api/outbox/%s/commit" % r["transfer_id"])
    r = a.post("/api/outbox/reserve", {"source_tank_id": ta, "destination_server_id": "vg-b", "destination_tank_id": tb}).json()
    a.post("/api/outbox/%s/abort" % r["transfer_id"])
    a.get("/api/tanks/%s/state" % ta)
    fish = [e["id"] for e in a.get("/api/tanks/%s/state" % ta).json()["entities"] if e["kind"] == "fish"]
    a.get("/api/tanks/%s/poker?limit=5" % ta)
    a.get("/api/tanks/%s/poker?limit=0" % ta)
    a.get("/api/tanks/%s/poker/strategies" % ta)
    a.post("/api/tanks/%s/poker/series" % ta, {"hands": 50, "top": 2})
    g = a.post("/api/tanks/%s/poker/games" % ta, {"fish_ids": fish[:2], "seed": 1}).json()["game_id"]
    a.post("/api/tanks/%s/poker/games/%s/action" % (ta, g), {"action": "autopilot"})
    a.post("/api/tanks/%s/poker/games/%s/deal" % (ta, g))
    a.post("/api/tanks/%s/poker/games/%s/action" % (ta, g), {"action": "nonsense"})
    g2 = a.post("/api/tanks/%s/poker/games" % ta, {"fish_ids": fish[:1]}).json()["game_id"]
    a.req("DELETE", "/api/tanks/%s/poker/games/%s" % (ta, g2))
    a.get("/metrics")
    b.post("/api/remote-transfer", {"transfer_id": str(uuid.uuid4())})
    if mig:
        mig.get("/health")
        mig.get("/api/connections")
    for d in daemons:
        rc = d.stop(timeout=60)
        t.eq(rc, 0, "%s runs clean under valgrind (exit %s)" % (d.name, rc))
finally:
    finish(t, root, daemons, tail=40)
t.done()
