#!/usr/bin/env python3
"""Lineage records against the real daemon: a fish's ancestors with their places of
birth (GET /api/tanks/{id}/lineage?fish_id=F&depth=N), a tank's records and the
original's GET /api/lineage, bad input 400 and unknown tank or fish 404, and the
records surviving kill -9 and a restart."""
import datetime
import os
import time

from twlib import Daemon, Tap, base_ports, jerr, tmpdir, wait_until

t = Tap()
root = tmpdir("twlin")
(port,) = base_ports(1)
d = Daemon("simd", os.path.join(root, "a"), "srv-lin", port,
           extra={"sim.tick_rate": "1000", "sim.snapshot_interval": "0.5"})


try:
    d.start()
    r = d.post("/api/tanks", {"name": "Kin", "seed": 11, "lineage_depth": 3})
    t.eq(r.status, 201, "a tank with lineage_depth 3")
    tank = r.json()["tank"]["tank_id"]
    created = datetime.datetime.fromisoformat(
        r.json()["tank"]["created_at"].replace("Z", "+00:00")).timestamp()
    base = "/api/tanks/%s" % tank

    def grandchild():
        """A living fish with a recorded grandparent, or None."""
        recs = d.get(base + "/lineage").json()["records"]
        for rec in recs:
            if rec["living"] and rec["generation"] >= 2:
                return rec["fish_id"]
        return None
    t.ok(wait_until(lambda: grandchild() is not None, 240, 0.5),
         "the tank runs until a living fish has grandparents")
    t.eq(d.post(base + "/pause").status, 200, "pause (so that nothing changes below)")
    fid = grandchild()

    r = d.get(base + "/lineage?fish_id=%s&depth=2" % fid)
    t.eq(r.status, 200, "GET /lineage?fish_id=F&depth=2")
    j = r.json()
    recs = {x["fish_id"]: x for x in j["records"]}
    me = recs.get(fid, {})
    need = {"fish_id", "mother_id", "father_id", "generation", "born_frame", "born_at",
            "born_tank_id", "born_server_id", "algorithm", "poker_strategy", "died_frame",
            "cause", "living", "depth"}
    t.ok(need <= set(me), "a record has %s" % sorted(need), sorted(me))
    t.ok(j["records"][0]["fish_id"] == fid and me["depth"] == 0 and j["tank_id"] == tank,
         "F's own record first, at depth 0")
    mother = recs.get(me["mother_id"])
    t.ok(mother and mother["depth"] == 1, "its mother at depth 1")
    gm = recs.get(mother["mother_id"]) if mother else None
    # Each fish is listed once, at its nearest depth: a grandmother who is also the
    # father (inbreeding) is at depth 1.
    t.ok(gm and gm["depth"] in (1, 2) and gm["born_tank_id"] == tank and gm["born_server_id"] == "srv-lin",
         "its grandmother (depth 2, or 1 if also a parent), born in this tank on this server", gm)
    t.ok(max(x["depth"] for x in j["records"]) == 2, "nothing deeper than asked")
    t.ok(all(x["born_frame"] is not None and x["born_at"] >= created - 1 for x in j["records"]),
         "born_frame and born_at (creation time + frame / 30) are known", created)
    dead = [x for x in j["records"] if not x["living"] and x["died_frame"] is not None]
    t.ok(all(x["cause"] in ("starvation", "predation", "old_age") for x in dead),
         "the dead have died_frame and cause", len(dead))
    r = d.get(base + "/lineage?fish_id=%s&depth=0" % fid)
    t.ok(r.status == 200 and [x["fish_id"] for x in r.json()["records"]] == [fid], "depth=0: F alone")

    allr = d.get(base + "/lineage?limit=3").json()
    t.ok(len(allr["records"]) == 3 and allr["total"] >= 3, "without fish_id: the records, limit=3",
         allr.get("total"))
    # total is the tank's count of records, not the page's: a client pages by it.
    nrec = len(d.get(base + "/lineage?limit=100000").json()["records"])
    t.ok(nrec > 3 and allr["total"] == nrec, "total counts all the tank's records, not the page",
         (allr.get("total"), nrec))
    leg = d.get("/api/lineage?tank_id=%s" % tank)
    t.ok(leg.status == 200 and isinstance(leg.json(), list) and
         any(x["fish_id"] == fid for x in leg.json()), "the original's GET /api/lineage: a list")
    t.ok(d.get("/api/lineage").status == 200, "GET /api/lineage without a tank: the first tank")
    # The original's clients have no tank id: without one they must get the default
    # tank's records (simd's first tank), not those of the tank made after it.
    first = [x["tank"]["tank_id"] for x in d.get("/api/tanks").json()["tanks"]
             if x["tank"]["tank_id"] != tank]
    dflt = d.get("/api/lineage").json()
    t.ok(len(first) == 1 and dflt and all(x["born_tank_id"] == first[0] for x in dflt),
         "GET /api/lineage without a tank: the default tank's records, not Kin's", first)
    # The original's limit bounds its list as ours does (a client asking for a few
    # records of a big tank must not get 10,000).
    leg2 = d.get("/api/lineage?tank_id=%s&limit=2" % tank)
    t.ok(leg2.status == 200 and len(leg2.json()) == 2, "GET /api/lineage?limit=2: two records",
         leg2.status)

    unknown = "00000000-0000-4000-8000-000000000000"
    for q in ("depth=-1", "depth=1001", "depth=x", "fish_id=nope&depth=2", "fish_id=%s&depth=1001" % fid,
              "limit=0", "depth=2"):
        t.ok(jerr(d.get(base + "/lineage?" + q), 400), "lineage?%s: JSON 400" % q)
    t.ok(jerr(d.get(base + "/lineage?fish_id=" + unknown), 404), "an unknown fish: JSON 404")
    t.ok(jerr(d.get("/api/tanks/%s/lineage?fish_id=%s" % (unknown, fid)), 404), "an unknown tank: JSON 404")
    t.ok(jerr(d.get("/api/lineage?tank_id=" + unknown), 404), "GET /api/lineage?tank_id=unknown: JSON 404")

    # kill -9 after a snapshot: the same records come back.
    time.sleep(1.5)
    before = d.get(base + "/lineage?fish_id=%s&depth=3" % fid).json()
    whole = d.get(base + "/lineage?limit=100000").json()
    d.kill9()
    d.start()
    after = d.get(base + "/lineage?fish_id=%s&depth=3" % fid).json()
    t.ok(after == before, "after kill -9 F's ancestry is the same", (before, after))
    t.ok(d.get(base + "/lineage?limit=100000").json() == whole, "and so are all the tank's records",
         whole.get("total"))

    # Running on: records of fish born since are bounded by lineage_depth.
    t.eq(d.post(base + "/resume").status, 200, "resume")
    f0 = d.get(base).json()["frame"]
    t.ok(wait_until(lambda: d.get(base).json()["frame"] > f0 + 3000, 120), "3000 more frames")
    st = d.get(base).json()["stats"]
    total = d.get(base + "/lineage").json()["total"]
    t.ok(total < st["births"] + st["spawns"], "extinct branches are pruned (%d records of %d fish)"
         % (total, st["births"] + st["spawns"]))
finally:
    d.stop()
    t.done()
