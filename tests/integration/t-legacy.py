#!/usr/bin/env python3
"""A client speaking the original's format (spec §1.3.3, §1.10) against simd's TCP door, with
the token: it creates a tank by query parameters, then sends fish in both of the original's
remote-transfer forms (query parameters with the entity as the body; all in the body without
a transfer_id), retrying each identically as the original did after a timeout, some at the
same moment. Each fish arrives exactly once, translated."""
import json
import os
import threading
import urllib.parse

from twlib import Daemon, Tap, base_ports, tmpdir, write_token

t = Tap()
root = tmpdir("twlg")
(p1,) = base_ports(1)
token = "legacy-test-token-0123456789"
write_token(os.path.join(root, "token"), token)
d = Daemon("simd", os.path.join(root, "b"), "srv-b", p1, extra={"security.token_file": os.path.join(root, "token")})


def original_fish(n):
    """The original's fish payload (entity_transfer.py at 5ed548b9), n varying its content."""
    return {"type": "fish", "id": n, "species": "school.png", "x": 100.0 + n, "y": 200.0, "vel_x": 1.0, "vel_y": -0.5,
            "speed": 2.4, "energy": 50.0 + n, "max_energy": 100.0, "age": 30 * n, "max_age": 3000, "generation": n,
            "parent_id": None,
            "genome_data": {"speed_modifier": 1.2, "size_modifier": 1.0, "vision_range": 1.0, "metabolism_rate": 1.0,
                            "max_energy": 1.0, "fertility": 1.0, "color_hue": 0.1 * (n % 10), "aggression": 0.5,
                            "social_tendency": 0.5, "template_id": 1,
                            "poker_strategy_algorithm": {"strategy_id": "tight_aggressive", "parameters": {}}},
            "memory": {"food_memories": [], "predator_last_seen": 0}, "reproduction_cooldown": 0}


def post(path, body=None, raw=None):
    return d.post(path, body, tcp=True, token=token, raw=raw)


try:
    d.start()
    q = urllib.parse.urlencode({"name": "Legacy Reef", "description": "from the original", "seed": 11,
                                "owner": "alice", "is_public": "true", "allow_transfers": "true",
                                "server_id": "local-server"})
    r = d.req("POST", "/api/tanks?" + q, tcp=True, token=token)
    t.ok(r.status == 201 and r.json()["tank"]["name"] == "Legacy Reef"
         and r.json()["tank"]["description"] == "from the original", "POST /api/tanks by query parameters: 201", r)
    tank = r.json()["tank"]["tank_id"]
    r = d.req("POST", "/api/tanks?name=x&server_id=elsewhere", tcp=True, token=token)
    t.ok(r.status == 400 and r.json().get("code") == "wrong_server", "another server_id is refused", r)
    r = d.req("POST", "/api/tanks?name=x&is_public=maybe", tcp=True, token=token)
    t.ok(r.status == 400, "a bad boolean is refused", r)
    r = d.req("POST", "/api/tanks?name=x&seed=-3", tcp=True, token=token)
    t.ok(r.status == 400 and r.json().get("code"), "a negative seed is refused", r)
    r = d.req("POST", "/api/tanks", tcp=True, token=token)
    t.ok(r.status == 400 and r.json().get("code"), "no body and no name: a JSON 400", r)
    r = d.req("POST", "/api/tanks?name=Local")
    t.ok(r.status == 201 and r.json()["tank"]["name"] == "Local", "over the Unix socket no token is needed", r)
    t.ok(d.req("POST", "/api/tanks?name=x", tcp=True).status == 401, "TCP creation by query needs the token too")
    # The original's start, stop and snapshot: resume, pause and the state.
    r = post("/api/tanks/%s/start" % tank)
    t.ok(r.status == 200 and r.json()["paused"] is False, "POST start: running", r)
    r = post("/api/tanks/%s/stop" % tank)
    t.ok(r.status == 200 and r.json()["paused"] is True, "POST stop: paused", r)
    r = d.get("/api/tanks/%s/snapshot" % tank, tcp=True)
    t.ok(r.status == 200 and r.json()["entities"] and r.json() == d.get("/api/tanks/%s/state" % tank, tcp=True).json(),
         "GET snapshot: the whole state, for thumbnails", r)
    r = post("/api/tanks/%s/pause" % tank)
    t.eq(r.status, 200, "pause the tank, so only arrivals change its fish")
    before = set(d.fish_ids(tank, tcp=True))

    # The query form, sent three times identically (the original's retries after a timeout).
    qs = urllib.parse.urlencode({"destination_tank_id": tank, "source_server_id": "orig-1", "source_tank_id": "3"})
    raw = json.dumps(original_fish(1))
    answers = [post("/api/remote-transfer?" + qs, raw=raw) for _ in range(3)]
    t.ok(all(a.status == 200 and a.json()["success"] is True for a in answers), "query form: every try answers 200 success",
         [a for a in answers])
    ids = {a.json()["entity"]["new_id"] for a in answers}
    tids = {a.json()["transfer_id"] for a in answers}
    t.ok(len(ids) == 1 and len(tids) == 1, "the retries are one transfer of one fish", (ids, tids))
    fid = ids.pop()
    now = d.fish_ids(tank, tcp=True)
    t.eq(now.count(fid), 1, "the fish is in the tank once")
    t.eq(len(now), len(before) + 1, "and nothing else arrived")
    r = d.get("/api/tanks/%s/fish/%s" % (tank, fid), tcp=True)
    f = r.json().get("fish", r.json())
    t.ok(r.status == 200 and f.get("generation") == 1 and f.get("generation_deepest") == 1
         and abs(f.get("x", 0) - 101.0) < 1e-9,
         "translated: generation (both counts: the original has one) and position carried", r)

    # The all-in-body form without a transfer_id: two fish, each sent twice, the second
    # pair at the same moment from two threads.
    body2 = {"destination_tank_id": tank, "source_server_id": "orig-1", "source_tank_id": "3",
             "entity_data": original_fish(2)}
    a1, a2 = post("/api/remote-transfer", body2), post("/api/remote-transfer", body2)
    t.ok(a1.status == 200 and a2.status == 200 and a1.json()["entity"]["new_id"] == a2.json()["entity"]["new_id"],
         "all-in-body form without transfer_id: the retry is the same transfer", (a1, a2))
    a3 = post("/api/remote-transfer", dict(body2, transfer_id=None))
    t.ok(a3.status == 200 and a3.json()["entity"]["new_id"] == a1.json()["entity"]["new_id"]
         and a3.json()["transfer_id"] == a1.json()["transfer_id"],
         "\"transfer_id\": null is no transfer id: the same derived transfer", a3)
    body3 = dict(body2, entity_data=original_fish(3))
    res = []
    th = [threading.Thread(target=lambda: res.append(post("/api/remote-transfer", body3))) for _ in range(4)]
    for x in th:
        x.start()
    for x in th:
        x.join()
    t.ok(len(res) == 4 and all(x.status == 200 for x in res) and len({x.json()["entity"]["new_id"] for x in res}) == 1,
         "four simultaneous identical sends are one transfer", res)
    now = d.fish_ids(tank, tcp=True)
    t.eq(len(now), len(before) + 3, "three distinct fish sent, three arrived")
    t.eq(len(set(now)), len(now), "no fish twice")

    # The same fish content from another source tank is another transfer.
    r = post("/api/remote-transfer", dict(body2, source_tank_id="4"))
    t.ok(r.status == 200 and r.json()["entity"]["new_id"] not in now, "another source is another fish", r)

    n = len(d.fish_ids(tank, tcp=True))
    plant = {"type": "fractal_plant", "id": 1, "x": 1, "y": 1, "genome_data": {}}
    r = post("/api/remote-transfer?" + qs, raw=json.dumps(plant))
    t.ok(r.status == 400 and r.json().get("code") == "invalid_entity", "a plant is refused with a JSON 400", r)
    r = post("/api/remote-transfer?" + urllib.parse.urlencode({"destination_tank_id": "nope", "source_server_id": "orig-1",
                                                                "source_tank_id": "3"}), raw=raw)
    t.ok(r.status == 404, "an unknown destination tank is a 404", r)
    r = post("/api/remote-transfer?destination_tank_id=%s" % tank, raw=raw)
    t.ok(r.status == 400, "missing source parameters are a 400", r)
    t.ok(d.req("POST", "/api/remote-transfer?" + qs, tcp=True, raw=raw).status == 401, "no token over TCP: 401")
    t.eq(len(d.fish_ids(tank, tcp=True)), n, "refused requests changed nothing")

    d.stop()
    d.start()
    now = d.fish_ids(tank, tcp=True)
    t.ok(fid in now and len(now) == n, "after a restart the fish are there, once", now)
    r = post("/api/remote-transfer?" + qs, raw=raw)
    t.ok(r.status == 200 and r.json()["entity"]["new_id"] == fid and len(d.fish_ids(tank, tcp=True)) == n,
         "a retry after the restart still inserts nothing", r)
finally:
    d.stop()
t.done()
