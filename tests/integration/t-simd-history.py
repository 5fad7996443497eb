#!/usr/bin/env python3
"""A tank's history and evolution counters against the real daemon: per-tank evolution
parameters at creation (bad ones 400), history samples every history_interval frames in a
bounded ring, since/limit/format=csv, bad input 400 and an unknown tank 404, TankStatus
evolution stats, /metrics gauges of the newest sample, a long window copied without
holding the tank's lock long, the history surviving kill -9,
and a paused tank resuming where it stopped."""
import os
import re
import time

from twlib import TEST_TOKEN, Daemon, Tap, base_ports, jerr, metric_sum, tmpdir, wait_until

t = Tap()
root = tmpdir("twhist")
(port,) = base_ports(1)
d = Daemon("simd", os.path.join(root, "a"), "srv-a", port,
           extra={"sim.tick_rate": "600", "sim.snapshot_interval": "0.5"})


try:
    d.start()
    for bad in ({"spawn_floor": -1}, {"history_interval": 0}, {"history_size": 100001},
                {"lineage_depth": "x"}):
        body = {"name": "Bad"}
        body.update(bad)
        t.ok(jerr(d.post("/api/tanks", body), 400), "create with %r: JSON 400" % bad)
    r = d.post("/api/tanks", {"name": "Lab", "seed": 5, "history_interval": 30,
                              "history_size": 20, "spawn_floor": 4})
    t.eq(r.status, 201, "a tank with history_interval 30, history_size 20, spawn_floor 4")
    tank = r.json()["tank"]["tank_id"]
    base = "/api/tanks/%s" % tank
    frame = lambda: d.get(base).json()["frame"]
    t.ok(wait_until(lambda: frame() >= 900 and d.get(base).json()["stats"]["births"] >= 2, 300),
         "the tank runs 900 frames and fish are born")

    r = d.get(base + "/history")
    t.eq(r.status, 200, "GET /history")
    h = r.json()
    samples = h["samples"]
    frames = [s["frame"] for s in samples]
    t.ok(len(samples) == 20, "the ring holds history_size samples", len(samples))
    t.ok(all(f % 30 == 0 for f in frames) and frames == sorted(set(frames)),
         "samples every 30 frames, oldest first", frames)
    t.ok(h["history_interval"] == 30 and h["history_size"] == 20, "the parameters are shown")
    need = {"population", "births", "spawns", "deaths_starvation", "speed_modifier_mean",
            "speed_modifier_std", "generation_mean", "generation_max", "offspring_born",
            "offspring_spawned", "flow_in_food_spawn"}
    t.ok(need <= set(h["columns"]), "the columns include %s" % sorted(need))
    t.ok(any(c.startswith("algo_") for c in h["columns"]) and
         any(c.startswith("strategy_") for c in h["columns"]), "and algorithm and strategy shares")
    shares = [sum(v for k, v in s.items() if k.startswith("strategy_")) for s in samples
              if s["population"] > 0]
    t.ok(all(abs(x - 1) < 1e-6 for x in shares), "strategy shares sum to 1")

    r = d.get(base + "/history?since=%d&limit=3" % frames[5])
    got = [s["frame"] for s in r.json()["samples"]]
    t.eq(got, frames[6:9], "since=FRAME&limit=3: the three samples after it")

    r = d.get(base + "/history?format=csv&since=%d" % frames[-3])
    lines = r.body.strip().split("\n")
    t.ok(r.status == 200 and r.headers.get("Content-Type", "").startswith("text/csv"),
         "format=csv is text/csv")
    t.ok(lines[0].split(",") == h["columns"] and len(lines) >= 3,
         "a header with the columns, then one row per sample", len(lines))

    for q in ("since=-1", "since=x", "limit=0", "limit=100001", "format=xml", "since=%20-1",
              "limit=%2B5", "limit=%205", "limit=5%20"):
        t.ok(jerr(d.get(base + "/history?" + q), 400), "history?%s: JSON 400" % q)
    t.ok(jerr(d.get("/api/tanks/00000000-0000-4000-8000-000000000000/history"), 404),
         "an unknown tank: JSON 404")

    r = d.get(base + "/events")
    ev = r.json()
    seqs = [e["seq"] for e in ev["events"]]
    t.ok(r.status == 200 and seqs and seqs == list(range(seqs[0], seqs[0] + len(seqs))) and
         ev["next_seq"] == seqs[-1] + 1, "GET /events: consecutive sequence numbers", seqs[:5])
    kinds = {e["type"] for e in ev["events"]}
    t.ok({"spawn", "birth"} <= kinds, "spawns and births are events", sorted(kinds))
    b = [e for e in ev["events"] if e["type"] == "birth"]
    t.ok(all(e["mother_id"] and "speed_modifier" in e["genome"] for e in b),
         "a birth names its parents and carries a genome summary")
    r = d.get(base + "/events?since=%d" % seqs[-3])
    t.eq([e["seq"] for e in r.json()["events"]][:2], seqs[-2:], "events?since=SEQ")
    # limit bounds the page (a viewer polling for a few events must not get 4,096).
    r = d.get(base + "/events?limit=2")
    t.ok(r.status == 200 and len(r.json()["events"]) == 2, "events?limit=2: two events",
         len(r.json().get("events", [])))
    for q in ("since=-1", "limit=0", "limit=5000"):
        t.ok(jerr(d.get(base + "/events?" + q), 400), "events?%s: JSON 400" % q)

    # A fish added by hand (the viewer's "Spawn fish") is a spawn in the events as in the
    # stats: readers rebuilding the population from /events undercounted it.
    before = d.get(base).json()["stats"]["spawns"]
    nxt = d.get(base + "/events?limit=1").json()["next_seq"]
    r = d.post(base + "/fish", {"x": 300, "y": 200})
    t.eq(r.status, 201, "POST /fish adds a fish")
    fid = r.json()["fish"]["id"]
    ev = [e for e in d.get(base + "/events?since=%d" % (nxt - 1)).json()["events"]
          if e["type"] == "spawn" and e.get("fish_id") == fid]
    t.ok(len(ev) == 1 and d.get(base).json()["stats"]["spawns"] >= before + 1,
         "and it is one spawn event, as it is one spawn in the stats", ev)

    st = d.get(base).json()["stats"]
    need = {"spawns", "births_refused", "poker_games", "poker_hands", "generation_mean",
            "generation_deepest", "energy_ledger", "spawns_from_gene_bank", "gene_bank_size"}
    t.ok(need <= set(st), "TankStatus stats add %s" % sorted(need), sorted(st))
    led = st["energy_ledger"]
    t.ok(abs(led["imbalance"]) < 1e-6 * max(1, st["total_energy"]),
         "the ledger in TankStatus balances", led["imbalance"])

    # Figures rounded for people are written as rounded (json-c's 17 digits wrote the
    # median tick 0.04 as 0.040000000000000001).
    text = d.get(base).body
    places = {"fps": 1, "median_ms": 2, "p99_ms": 2, "total_energy": 2, "fish_energy": 2,
              "plant_energy": 2, "generation_mean": 3, "food_energy": 3, "crab_energy": 3,
              "in_food_spawn": 3, "out_metabolism": 3}
    found = {k: re.search(r'"%s":(-?[0-9.eE+-]+)' % k, text) for k in places}
    bad = {k: m.group(1) for k, m in found.items()
           if m and not re.fullmatch(r"-?\d+(\.\d{1,%d})?" % places[k], m.group(1))}
    t.ok(not bad and all(found.values()), "TankStatus writes its rounded figures with their "
         "decimals only", bad or [k for k, m in found.items() if not m])

    m = d.get("/metrics").body
    t.ok('tankworld_sim_history{tank="%s",column="population"}' % tank in m,
         "/metrics exports the newest sample as gauges")

    # A long window (a sample every frame, 1,500 of them) is copied into room made
    # before the tank's lock is taken: a full ring of 100,000 samples held the lock
    # about 190 ms while its copy faulted 68 MB in (bench-sim job 12), 8 ms now.
    r = d.post("/api/tanks", {"name": "Long", "seed": 6, "history_interval": 1,
                              "history_size": 1500})
    t.eq(r.status, 201, "a tank with a sample every frame, history_size 1500")
    lbase = "/api/tanks/%s" % r.json()["tank"]["tank_id"]
    t.ok(wait_until(lambda: d.get(lbase).json()["frame"] >= 1600, 120), "it runs 1,600 frames")
    reads = [d.get(lbase + "/history?limit=100000") for _ in range(3)]
    lens = [len(x.json()["samples"]) if x.status == 200 else -1 for x in reads]
    rows = [x.json()["samples"] for x in reads if x.status == 200]
    t.ok(lens == [1500] * 3 and all(
        [s["frame"] for s in w] == list(range(w[0]["frame"], w[0]["frame"] + 1500)) for w in rows),
         "GET /history of the full ring: 1,500 consecutive samples, each time", lens)
    held = metric_sum(d, 'tankworld_sim_copy_lock_held_seconds_max{copy="history"}')
    t.ok(0 < held < 0.03, "and its copy held the tank's lock under 30 ms (%.2f ms)" % (1e3 * held))
    t.eq(d.delete(lbase, tcp=True, token=TEST_TOKEN).status, 200, "the long tank is deleted")

    # Pause, let a snapshot be written, kill -9: the same history comes back.
    t.eq(d.post(base + "/pause").status, 200, "pause")
    f0 = frame()
    time.sleep(0.5)
    t.eq(frame(), f0, "a paused tank does not step")
    time.sleep(1.5)
    before = d.get(base + "/history").json()["samples"]
    d.kill9()
    d.start()
    after = d.get(base + "/history").json()["samples"]
    t.ok(len(after) == 20 and after == before, "after kill -9 the history is the same",
         (len(before), len(after), before[-1]["frame"], after[-1]["frame"] if after else None))
    t.eq(frame(), f0, "and the tank is still paused at the same frame")
    t.eq(d.post(base + "/resume").status, 200, "resume")
    t.ok(wait_until(lambda: frame() > f0 + 30, 30), "and it steps again after resume")
finally:
    d.stop()
    t.done()
