#!/usr/bin/env python3
"""A plant sent to another server is answered as a plant: the remote-transfer answer's
entity type is "plant" (it said "fish" for everything), the same in a repeat of the
transfer, after kill -9 (the journal's arrive record) and after a clean restart (the
inbox in transfers.json). A fish is still answered as a fish, and an inbox record with a
kind that is neither stops the start, named; a reservation of such a kind is a 400 (the
same reader of "kind")."""
import json
import os

from twlib import Daemon, Tap, base_ports, finish, state_line, tmpdir

t = Tap()
root = tmpdir("twpa")
pa, pb = base_ports(2)
a = Daemon("simd", os.path.join(root, "a"), "srv-a", pa)
b = Daemon("simd", os.path.join(root, "b"), "srv-b", pb)


def send(kind):
    """Reserve one entity of this kind on a and deliver it to b, as migrated does."""
    r = a.post("/api/outbox/reserve", {"source_tank_id": ta, "destination_server_id": "srv-b",
                                       "destination_tank_id": tb, "kind": kind})
    if r.status != 200:
        return None, r
    tid = r.json()["transfer_id"]
    rec = a.get("/api/outbox/%s" % tid).json()  # the record as migrated fetches it
    body = {"transfer_id": tid, "destination_tank_id": tb, "source_server_id": "srv-a",
            "source_tank_id": ta, "entity_data": rec["entity_data"]}
    return body, b.post("/api/remote-transfer", body)


def entity_type(body):
    r = b.post("/api/remote-transfer", body)
    return r.json()["entity"]["type"] if r.status == 200 else r


try:
    a.start()
    b.start()
    ta = a.post("/api/tanks", {"name": "a", "initial_fish": 3, "paused": True}).json()["tank"]["tank_id"]
    tb = b.post("/api/tanks", {"name": "b", "initial_fish": 0, "initial_plants": 0,
                               "paused": True}).json()["tank"]["tank_id"]
    # The reservation's "kind" is read as the inbox's is: fish, plant, or a clear 400.
    for bad in ("tree", 5):
        r = a.post("/api/outbox/reserve", {"source_tank_id": ta, "destination_server_id": "srv-b",
                                           "destination_tank_id": tb, "kind": bad})
        t.ok(r.status == 400 and r.json().get("code") == "invalid_body" and "kind" in r.json().get("error", "")
             and a.get("/api/outbox").json()["count"] == 0,
             "a reservation of kind %r is refused, nothing reserved" % (bad,), r)
    plant, r = send("plant")
    t.ok(plant and r.status == 200 and r.json()["entity"]["type"] == "plant",
         "a plant's remote transfer is answered as a plant", r)
    fish, r = send("fish")
    t.ok(fish and r.status == 200 and r.json()["entity"]["type"] == "fish", "a fish's as a fish", r)
    t.eq((entity_type(plant), entity_type(fish)), ("plant", "fish"), "a repeat gets the same answer")
    b.kill9()
    b.start()
    t.eq((entity_type(plant), entity_type(fish)), ("plant", "fish"),
         "after kill -9 too (the inbox replayed from the journal)")
    t.eq(b.stop(), 0, "clean stop")
    path = os.path.join(b.state_dir, "sim", "transfers.json")
    good = open(path, "rb").read()
    state = json.loads(good.split(b" ", 2)[2])
    kinds = sorted(x.get("kind", "none") for x in state["inbox"])
    t.eq(kinds, ["none", "plant"], "transfers.json keeps the plant's kind (a fish's record has none)")
    b.start()
    t.eq((entity_type(plant), entity_type(fish)), ("plant", "fish"),
         "after a clean restart too (the inbox read from transfers.json)")
    t.eq(b.stop(), 0, "clean stop again")
    good = open(path, "rb").read()  # as this stop left it: the journal goes on from there
    state = json.loads(good.split(b" ", 2)[2])
    for x in state["inbox"]:
        if x.get("kind") == "plant":
            x["kind"] = "tree"  # a valid line (checksum, length) holding a bad kind
    open(path, "wb").write(state_line(state) + b"\n")
    ok, log = b.start_fails("kind", 20, 6)
    t.ok(ok, "an inbox record of another kind stops the start, named", log)
    open(path, "wb").write(good)
    b.start()
    t.eq(entity_type(plant), "plant", "with the file restored it starts and answers as before")
finally:
    finish(t, root, [a, b])
t.done()
