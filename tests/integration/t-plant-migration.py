#!/usr/bin/env python3
"""Plants migrate (issue 15), between two real servers (discoveryd + simd + migrated
each), by the same exactly-once protocol as fish.

1. A plant keeps its id, genome, energy, age and generation across servers (both tanks
   paused, so nothing changes them on the way).
2. A destination with no free root spot refuses with 409 no_root_spot (a JSON error), the
   source aborts, and the plant is back in its tank, once.
3. A plant in flight (the destination simd stopped) survives kill -9 of the source simd,
   and a plant that arrived survives kill -9 of the destination simd: each plant is in
   exactly one place at the end.
4. A local move (both tanks on one simd) moves a plant in one journaled step, which
   survives kill -9 too.
5. tankctl audit counts the plants: per kind, none lost, none duplicated.

The source tanks have no fish, so every hit moves a plant."""
import json
import os
import shutil
import signal
import subprocess

from migratedlib import Cluster, migrated_built, simd_built
from twlib import BUILD, WRAPPER, Tap, jerr, request, tmpdir, wait_until

if not simd_built() or not migrated_built():
    print("1..0 # SKIP simd or migrated not built")
    raise SystemExit(0)

t = Tap()
root = tmpdir("twpm")
cl = Cluster(root, 2, "plant-token-0123456789abcdef",
             extra={"migration.check_interval": "3600", "sim.tick_rate": "10",
                    "migration.plant_weight": "1"})


def plants(server, tank):
    r = server.sim.get("/api/tanks/%s/state" % tank)
    if r.status != 200:
        return None
    return {e["id"]: e for e in r.json()["entities"] if e["kind"] == "plant"}


def plant_json(server, tank, pid):
    r = server.sim.get("/api/tanks/%s/plants/%s" % (tank, pid))
    return r.json() if r.status == 200 else None


def run_pass(server):
    r = server.mig.post("/api/migrations/run")
    return r.status == 200


def connect(src_server, src, dst_server, dst, cid):
    r = src_server.mig.post("/api/connections", {
        "id": cid, "sourceId": src, "destinationId": dst,
        "destinationServerId": dst_server.id, "probability": 100, "direction": "right"})
    t.ok(r.status == 201, "connection %s" % cid, r)


def everywhere(pid):
    """Every place a plant id is: tanks and outboxes of both servers."""
    out = []
    for s in cl.servers:
        for ts in s.tanks():
            tid = ts["tank"]["tank_id"]
            if pid in (plants(s, tid) or {}):
                out.append("%s/tank:%s" % (s.id, tid))
        r = s.sim.get("/api/outbox")
        for x in r.json()["transfers"] if r.status == 200 else []:
            if x["fish_id"] == pid:
                out.append("%s/outbox:%s" % (s.id, x["transfer_id"]))
    return out


try:
    cl.start()
    s1, s2 = cl.servers
    # A wide world has 25 root spots and 3 plants; a 200 px one has 5 spots, 3 of them
    # under the castle, and 1 plant: room for exactly one more.
    a = s1.create_tank("plants-a", 0)
    b = s2.create_tank("plants-b-small", 0)
    r = s2.sim.post("/api/tanks", {"name": "small", "initial_fish": 0, "width": 200, "paused": True})
    t.ok(r.status == 201, "a 200 px tank", r)
    small = r.json()["tank"]["tank_id"]
    before_a = plants(s1, a)
    t.ok(len(before_a) == 3, "tank A has 3 plants and no fish", before_a)
    full = {pid: plant_json(s1, a, pid) for pid in before_a}
    t.ok(all(full.values()) and all(p["kind"] == "plant" for p in full.values()),
         "GET /api/tanks/{id}/plants/{plant_id} gives each plant's full JSON")
    t.ok(jerr(s1.sim.get("/api/tanks/%s/plants/%s" % (a, "0" * 8 + "-0000-4000-8000-" + "0" * 12)),
              404, "unknown_plant"), "an unknown plant is a JSON 404")

    # 1. One plant to s2's wide tank.
    connect(s1, a, s2, b, "a-b")
    run_pass(s1)
    ok = wait_until(lambda: len(plants(s1, a)) == 2 and s1.outbox_count() == 0, 30, 0.2)
    t.ok(ok, "one plant left tank A and its transfer ended")
    moved = set(before_a) - set(plants(s1, a))
    t.eq(len(moved), 1, "exactly one plant moved")
    pid = moved.pop() if moved else None
    after = plant_json(s2, b, pid) if pid else None
    t.ok(after is not None, "the plant is in tank B on s2, with the same id", pid)
    if after:
        skip = {"serial", "root_spot"}  # the tank's own: a fresh serial and a free spot
        got = {k: v for k, v in after.items() if k not in skip}
        want = {k: v for k, v in full[pid].items() if k not in skip}
        t.ok(got == want, "it kept its genome, energy, age, generation and counters",
             {"before": want, "after": got})
        size_before = before_a[pid]["size"]
        t.eq(plants(s2, b)[pid]["size"], size_before, "it kept its growth (size %.2f)" % size_before)
    st = s2.sim.get("/api/tanks/%s" % b).json()["stats"]
    t.eq(st.get("plant_migrations_in"), 1, "tank B counts one plant arrival")
    st = s1.sim.get("/api/tanks/%s" % a).json()["stats"]
    t.eq(st.get("plant_migrations_out"), 1, "tank A counts one plant departure")
    r = s1.mig.get("/api/transfers?limit=10")
    recs = r.json()["transfers"] if r.status == 200 else []
    t.ok(any(x["entity_type"] == "plant" and x["state"] == "committed" and x["entity_old_id"] == pid
             for x in recs), "migrated records a committed plant transfer", recs[:3])
    cl.delete_all_connections()

    # 2. A full destination: the 200 px tank takes one plant, then refuses.
    connect(s1, a, s2, small, "a-small")
    left = set(plants(s1, a))
    run_pass(s1)
    t.ok(wait_until(lambda: len(plants(s2, small)) == 2 and s1.outbox_count() == 0, 30, 0.2),
         "the 200 px tank took one plant: its last free root spot")
    run_pass(s1)

    def refused():
        r = s1.mig.get("/api/transfers?limit=20")
        return [x for x in r.json()["transfers"] if x["state"] == "aborted"] if r.status == 200 else []
    t.ok(wait_until(lambda: refused() and s1.outbox_count() == 0, 30, 0.2),
         "the next plant was refused and its transfer aborted")
    ab = refused()
    t.ok(ab and ab[0]["entity_type"] == "plant" and "no_root_spot" in (ab[0].get("error") or ""),
         "the refusal is 409 no_root_spot", ab[:1])
    back = ab[0]["entity_old_id"] if ab else None
    now_a = plants(s1, a)
    t.ok(back in now_a, "the refused plant is back in tank A", back)
    t.eq(everywhere(back), ["%s/tank:%s" % (s1.id, a)] if back else [], "and only there, once")
    t.eq(len(now_a) + 1, len(left), "tank A lost only the plant that moved")
    # The refusal straight from the destination's simd: a JSON 409, nothing inserted.
    pj = plant_json(s1, a, back) if back else None
    body = {"transfer_id": "11111111-2222-4333-8444-555555555555", "destination_tank_id": small,
            "source_server_id": s1.id, "source_tank_id": a, "entity_data": pj}
    r = request("POST", url=s2.sim.url, path="/api/remote-transfer", body=body, token=cl.token)
    t.ok(jerr(r, 409, "no_root_spot"), "remote-transfer into a full tank: 409 no_root_spot", r)
    t.eq(len(plants(s2, small)), 2, "and nothing was inserted")
    bad = dict(pj or {}, junk=1)
    body["entity_data"] = bad
    body["transfer_id"] = "11111111-2222-4333-8444-555555555556"
    r = request("POST", url=s2.sim.url, path="/api/remote-transfer", body=body, token=cl.token)
    t.ok(jerr(r, 400, "invalid_entity"), "a plant with an unknown key: 400 invalid_entity", r)
    # An id names one entity whatever its kind: a plant under the id of a fish there is a
    # duplicate (it was taken, and the id then lived twice).
    fishy = s2.create_tank("plants-fishy", 2)
    fid = [e["id"] for e in s2.sim.get("/api/tanks/%s/state" % fishy).json()["entities"] if e["kind"] == "fish"][0]
    body["entity_data"] = dict(pj or {}, id=fid)
    body["destination_tank_id"] = b
    body["transfer_id"] = "11111111-2222-4333-8444-555555555557"
    r = request("POST", url=s2.sim.url, path="/api/remote-transfer", body=body, token=cl.token)
    t.ok(jerr(r, 409, "duplicate_fish"), "a plant with the id of a fish there: 409 duplicate_fish", r)
    t.ok(fid not in plants(s2, b), "and nothing was inserted")
    s2.sim.delete("/api/tanks/%s" % fishy)
    r = s2.sim.get("/api/tanks/%s/state" % small)
    t.ok(r.status == 200, "s2's simd still answers")
    cl.delete_all_connections()

    # 3. kill -9 with a plant in flight, and after it arrived.
    connect(s1, a, s2, b, "a-b2")
    s2.sim.signal(signal.SIGSTOP)
    try:
        run_pass(s1)
        t.ok(wait_until(lambda: s1.outbox_count() == 1, 30, 0.2), "a plant is in flight (s2's simd stopped)")
        x = s1.sim.get("/api/outbox").json()["transfers"]
        flying = x[0]["fish_id"] if x else None
        t.eq(x[0].get("kind") if x else None, "plant", "the outbox record says kind plant")
        s1.mig.kill9()
        s1.sim.kill9()
        s1.sim.start()
        t.ok(flying not in (plants(s1, a) or {}), "after kill -9 of s1's simd the plant is not back in A")
        t.eq(s1.outbox_count(), 1, "it is still in the outbox")
        st = s1.sim.get("/api/tanks/%s" % a).json()["stats"]
        t.eq(st.get("plants_in_transit"), 1, "its root spot is held for it (plants_in_transit)")
    finally:
        s2.sim.signal(signal.SIGCONT)
    s1.mig.start()
    t.ok(wait_until(lambda: s1.outbox_count() == 0, 60, 0.2), "migrated resumed and ended the transfer")
    t.eq(everywhere(flying), ["%s/tank:%s" % (s2.id, b)], "the plant is in tank B, once")
    cl.delete_all_connections()
    s2.sim.kill9()
    s2.sim.start()
    t.eq(everywhere(flying), ["%s/tank:%s" % (s2.id, b)], "after kill -9 of s2's simd it is still there, once")
    t.eq(everywhere(pid), ["%s/tank:%s" % (s2.id, b)], "and so is the first plant")
    t.ok(cl.quiesce(30), "nothing in flight")

    # 4. A local move, then kill -9.
    # (Tank A has sent all its plants by now: tank D sends.)
    d = s1.create_tank("plants-d", 0)
    c = s1.create_tank("plants-c", 0)
    in_c = set(plants(s1, c))
    connect(s1, d, s1, c, "d-c")
    from_a = set(plants(s1, d))
    run_pass(s1)
    t.ok(wait_until(lambda: len(plants(s1, c)) == len(in_c) + 1, 30, 0.2), "a local move took a plant from D to C")
    cl.delete_all_connections()
    local = (set(plants(s1, c)) - in_c) & from_a
    lp = local.pop() if local else None
    t.ok(lp is not None, "the same plant id, now in C")
    r = s1.mig.get("/api/transfers?limit=5")
    t.ok(r.status == 200 and any(x["entity_type"] == "plant" and x["entity_old_id"] == lp and x["state"] == "committed"
                                 for x in r.json()["transfers"]), "migrated records the local plant move")
    s1.sim.kill9()
    s1.sim.start()
    t.eq(everywhere(lp), ["%s/tank:%s" % (s1.id, c)] if lp else [], "after kill -9 it is in C, once")

    # 5. The audit, with every plant id seen so far.
    tankctl = os.path.join(BUILD, "tankctl", "tankctl")
    cmd = WRAPPER + [tankctl, "-c", s1.sim.conf, "--set", "security.token_file=" + os.path.join(root, "token")]
    p = subprocess.run(cmd + ["--json", "audit"], capture_output=True, text=True, timeout=120)
    try:
        j = json.loads(p.stdout)
    except ValueError:
        j = {}
    total = sum(len(plants(s, ts["tank"]["tank_id"])) for s in cl.servers for ts in s.tanks())
    bal = j.get("migration_balance", {})
    t.ok(p.returncode == 0 and j.get("plants") == total and j.get("duplicated") == []
         and bal.get("plants", {}).get("difference") == 0 and bal["plants"]["departures"] >= 3
         and bal["plants"]["arrivals"] == bal["plants"]["departures"] and bal.get("difference") == 0,
         "tankctl audit --json: %d plants, the plants' balance exact" % total, p.stdout[-1500:] + p.stderr[-300:])
    p = subprocess.run(cmd + ["audit"], capture_output=True, text=True, timeout=120)
    t.ok(p.returncode == 0 and ("%d plants, 0 lost in migration, 0 duplicated" % total) in p.stdout
         and "PLANTS" in p.stdout, "tankctl audit: a plants line and column", p.stdout + p.stderr)
finally:
    if t.failed:
        for s in cl.servers:
            t.diag("--- %s simd\n%s" % (s.id, s.sim.log_tail(15)))
            t.diag("--- %s migrated\n%s" % (s.id, s.mig.log_tail(15)))
    cl.stop()
    shutil.rmtree(root, ignore_errors=True)
t.done()
