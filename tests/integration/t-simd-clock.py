#!/usr/bin/env python3
"""Time cannot break exactly-once. The destination simd runs under faketime; its wall
clock is stepped a month forward between a delivery and its retry, and the retry
inserts nothing, before and after kill -9, and with the clock stepped back again.
A forget (the source committed) is journaled: it survives kill -9."""
import os

from twlib import Daemon, FakeClock, Tap, base_ports, finish, tmpdir, write_token

t = Tap()
root = tmpdir("twclk")
clock = FakeClock.or_skip(root)

token = "clock-test-token-0123456789"
pa, pb = base_ports(2)
write_token(os.path.join(root, "token"), token)
extra = {"security.token_file": os.path.join(root, "token"), "sim.snapshot_interval": "3600"}
a = Daemon("simd", os.path.join(root, "a"), "clk-a", pa, extra=extra)
b = Daemon("simd", os.path.join(root, "b"), "clk-b", pb, extra=extra, env=clock.env)
step = clock.step


def ids(d, tank):
    return sorted(e["id"] for e in d.get("/api/tanks/%s/state" % tank).json()["entities"] if e["kind"] == "fish")


try:
    a.start()
    b.start()
    src = a.post("/api/tanks", {"name": "src", "initial_fish": 5, "paused": True}).json()["tank"]["tank_id"]
    dst = b.post("/api/tanks", {"name": "dst", "initial_fish": 0, "paused": True, "max_fish": 50}).json()["tank"]["tank_id"]
    sent = []
    for _ in range(2):
        r = a.post("/api/outbox/reserve", {"source_tank_id": src, "destination_server_id": "clk-b",
                                          "destination_tank_id": dst, "connection_id": "c"}).json()
        sent.append({"transfer_id": r["transfer_id"], "destination_tank_id": dst, "source_server_id": "clk-a",
                     "source_tank_id": src, "entity_data": r["entity_data"]})
    first, second = sent
    r1 = b.post("/api/remote-transfer", first, tcp=True, token=token)
    t.ok(r1.status == 200 and r1.json()["success"], "the delivery is accepted", r1)
    year0 = b.get("/api/inbox/%s" % first["transfer_id"]).json()["received_at"][:7]

    step("+31d")
    r = b.post("/api/remote-transfer", second, tcp=True, token=token)
    t.ok(r.status == 200, "another arrival after the clock jumped +31 days", r)
    month = b.get("/api/inbox/%s" % second["transfer_id"]).json()["received_at"][:7]
    t.ok(month != year0, "the destination's wall clock did jump (%s -> %s)" % (year0, month))
    r2 = b.post("/api/remote-transfer", first, tcp=True, token=token)
    t.ok(r2.status == 200 and r2.json() == r1.json(), "the retry gets the first answer", r2)
    fish = ids(b, dst)
    t.eq(fish.count(first["entity_data"]["id"]), 1, "and inserts nothing")
    t.eq(len(fish), 2, "two fish in the destination, once each")

    b.kill9()
    b.start()
    r3 = b.post("/api/remote-transfer", first, tcp=True, token=token)
    t.ok(r3.status == 200 and r3.json() == r1.json() and len(ids(b, dst)) == 2,
         "after kill -9, a month later, the retry still inserts nothing", r3)

    r = b.delete("/api/inbox/%s" % second["transfer_id"], tcp=True, token=token)
    t.ok(r.status == 200 and r.json()["forgotten"], "the source committed: forget", r)
    b.kill9()
    step("-31d")
    b.start()
    t.eq(b.get("/api/inbox/%s" % second["transfer_id"]).status, 404, "the forget survived kill -9")
    t.eq(b.get("/api/inbox/%s" % first["transfer_id"]).status, 200, "the uncommitted arrival is remembered")
    r4 = b.post("/api/remote-transfer", first, tcp=True, token=token)
    t.ok(r4.status == 200 and r4.json() == r1.json() and len(ids(b, dst)) == 2,
         "with the clock stepped back a month, the retry inserts nothing", r4)
    t.eq(b.stop(), 0, "clean stop")
    b.start()
    t.eq(b.get("/api/inbox/%s" % second["transfer_id"]).status, 404, "and the forget survives a snapshot")
    t.eq(len(ids(b, dst)), 2, "two fish after the restart")
    t.eq(b.stop(), 0, "clean stop")
    t.eq(a.stop(), 0, "source stops cleanly")
finally:
    finish(t, root, [a, b])
t.done()
