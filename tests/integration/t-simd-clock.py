#!/usr/bin/env python3
"""Time cannot break exactly-once. The destination simd runs under faketime; its wall
clock is stepped a month forward between a delivery and its retry, and the retry
inserts nothing, before and after kill -9, and with the clock stepped back again.
A forget (the source committed) is journaled: it survives kill -9. A tank made with the
clock set back keeps its place; a clock before 1970 or far ahead cannot keep simd from
starting again."""
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

    # A tank created while the clock is a year behind (a board before NTP) does not
    # become the default tank, nor move up the list, after a restart.
    step("+0d")
    before = b.get("/api/tanks").json()
    step("-365d")
    late = b.post("/api/tanks", {"name": "late", "initial_fish": 1, "paused": True}).json()["tank"]["tank_id"]
    step("+0d")
    t.eq(b.stop(), 0, "clean stop")
    b.start()
    after = b.get("/api/tanks").json()
    t.ok(after["default_tank_id"] == before["default_tank_id"] and
         [x["tank"]["tank_id"] for x in after["tanks"]] ==
         [x["tank"]["tank_id"] for x in before["tanks"]] + [late],
         "a tank made with the clock set back stays last, and the default tank stays",
         (before["default_tank_id"], after["default_tank_id"]))

    # A clock set before 1970, or far ahead, while a tank is created and a fish leaves:
    # the stamps are held within what the state files take, and simd starts again, after
    # kill -9 (replay) and after a clean stop (snapshot).
    for how, offset in (("kill -9", "-60y"), ("a clean stop", "+3200y")):
        step(offset)
        x = b.post("/api/tanks", {"name": "odd clock", "initial_fish": 2, "paused": True})
        r = b.post("/api/outbox/reserve", {"source_tank_id": dst, "destination_server_id": "clk-a",
                                           "destination_tank_id": src, "connection_id": "c"})
        step("+0d")
        stamp = r.json().get("created_at", "") if r.status == 200 else ""
        t.ok(x.status == 201 and r.status == 200 and stamp[:4] == ("1970" if offset[0] == "-" else "3000"),
             "clock at %s: the outbox record's stamp is held at a bound (%s)" % (offset, stamp), r)
        if how == "kill -9":
            b.kill9()
        else:
            t.eq(b.stop(), 0, "clean stop")
        try:
            b.start()
            started = b.get("/health").status == 200
        except RuntimeError as e:
            started = False
            t.diag(str(e)[-600:])
        t.ok(started and x.json()["tank"]["tank_id"] in [y["tank"]["tank_id"] for y in b.get("/api/tanks").json()["tanks"]],
             "and simd starts again after %s, with the tank" % how)
        if r.status == 200:
            b.post("/api/outbox/%s/abort" % r.json()["transfer_id"])
    t.eq(b.stop(), 0, "clean stop")
    t.eq(a.stop(), 0, "source stops cleanly")
finally:
    finish(t, root, [a, b])
t.done()
