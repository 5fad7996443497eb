#!/usr/bin/env python3
"""No tank can stall simd (issue 13): while a crowded tank (20,000 fish in the default
1088x612 world) is built and ticks, and snapshot rounds run every second, GET /health
keeps answering at once. The tank is built off the event loop, its tick is bounded
however dense it is, the snapshot thread never makes the loop wait, and the tank
reports its measured tick time in its status and in /metrics."""
import os
import threading
import time

from twlib import (TEST_TOKEN, Daemon, HealthProbe, Tap, base_ports, finish, jerr, metric_sum, tmpdir,
                   wait_until)

t = Tap()
probe = None
root = tmpdir("twcr")
d = Daemon("simd", root, "crowd", base_ports(1)[0], extra={"sim.snapshot_interval": "1"})
try:
    d.start()
    probe = HealthProbe(d)
    time.sleep(0.5)
    created = {}

    def create():
        created["r"] = d.post("/api/tanks", {"name": "crowd", "initial_fish": 20000, "max_fish": 20000},
                              tcp=True, timeout=120, token=TEST_TOKEN)

    ct = threading.Thread(target=create)
    ct.start()
    ct.join(120)
    r = created.get("r")
    t.ok(r is not None and r.status == 201, "the 20,000-fish tank is created (%s)" % (r and r.status))
    tank = r.json()["tank"]["tank_id"] if r is not None and r.status == 201 else None
    t.eq(r.json()["stats"]["fish_count"] if tank else None, 20000, "with all its fish")
    # It ticks, and snapshot rounds copy it: wait for ten ticks (a loaded machine may
    # take many seconds for them) and at least 3 s.
    t0 = time.time()
    wait_until(lambda: tank and d.get("/api/tanks/%s" % tank, tcp=True).json()["frame"] >= 10, 120, 0.5)
    time.sleep(max(0.0, 3.0 - (time.time() - t0)))
    st = d.get("/api/tanks/%s" % tank, tcp=True).json() if tank else {}
    tick = st.get("tick", {})
    t.diag("tank status: frame %s, fps %s, tick %s" % (st.get("frame"), st.get("fps"), tick))
    t.ok(st.get("frame", 0) >= 10, "the crowded tank ticks (frame %s)" % st.get("frame"))
    t.ok(tick.get("median_ms", 0) > 0 and tick.get("p99_ms", 0) >= tick.get("median_ms", 1),
         "its status reports the measured tick time (median and p99)")
    t.ok(isinstance(tick.get("lagging"), bool), "and whether it keeps its rate")
    m = d.get("/metrics", tcp=True, token=TEST_TOKEN).body
    t.ok('tankworld_sim_tick_seconds{tank="%s",quantile="0.99"}' % tank in m,
         "/metrics exports its tick time")
    # GET /state lists every entity, and json-c takes about a second to build and print
    # that for 20,000 fish and their food: the loop used to do it itself, with the tank's
    # lock held, so /health waited as long. It is built off the loop now.
    mark, reads = time.monotonic(), []
    for i in range(3):
        t0 = time.monotonic()
        r = d.get("/api/tanks/%s/state" % tank, tcp=True, timeout=120) if tank else None
        fish = sum(1 for e in r.json()["entities"] if e["kind"] == "fish") if r and r.status == 200 else 0
        reads.append((time.monotonic() - t0, fish))
    during = sorted(x for x, _, _ in probe.since(mark))
    t.diag("GET /state: %s s; /health meanwhile: %d answers, max %.1f ms" %
           (["%.2f" % x for x, _ in reads], len(during), 1e3 * (during[-1] if during else 0)))
    t.ok(all(n > 15000 for _, n in reads), "GET /state lists the crowded tank's fish",
         [n for _, n in reads])
    slowest = max(x for x, _ in reads)
    # The reads build their JSON on a thread of their own, beside the tank's two tick
    # threads on two cores: the loop may wait for a time slice (up to 120 ms seen with
    # the sanitizers), never for a read.
    t.ok(during and during[len(during) // 2] < 0.05 and during[-1] < 0.5,
         "/health keeps answering while it is read (median %.1f ms, max %.1f ms, reads up to %.2f s)"
         % (1e3 * during[len(during) // 2] if during else -1, 1e3 * during[-1] if during else -1, slowest))
    # A change to a ticking tank is made between two of its ticks (the gate): at once
    # when the tick thread sleeps, else when its tick ends, and the loop never takes the
    # lock of a tank in the middle of a tick. 120 food drops into the crowded tank: the
    # loop finds the lock taken at most a few times (by a snapshot's or a reader's copy,
    # never by a tick). Without the gate it waited for a tick for about one drop in five,
    # and /health waited up to 26 ms meanwhile (0.9 ms with the gate).
    waits0 = metric_sum(d, "tankworld_sim_loop_lock_waits_total")
    gated0 = metric_sum(d, "tankworld_sim_gate_changes_total")
    mark = time.monotonic()
    drops = [d.post("/api/tanks/%s/food" % tank, {"count": 1}, tcp=True, token=TEST_TOKEN).status
             for _ in range(120)] if tank else []
    waits = metric_sum(d, "tankworld_sim_loop_lock_waits_total") - waits0
    gated = metric_sum(d, "tankworld_sim_gate_changes_total") - gated0
    during = sorted(x for x, _, _ in probe.since(mark))
    t.diag("120 food drops: %s; through the gate %d; the loop waited for a lock %d times; "
           "/health meanwhile: max %.1f ms" % ({c: drops.count(c) for c in set(drops)}, gated, waits,
                                               1e3 * (during[-1] if during else 0)))
    t.ok(drops == [201] * 120, "120 food drops into the ticking tank are made", drops[:3])
    t.ok(gated >= 120, "each through the tank's gate (%d)" % gated)
    t.ok(waits <= 6, "the loop waited for the tank's lock at most 6 times for them (%d)" % waits)
    # A change to two tanks, or one that looks into every tank, holds all their gates:
    # a local move between the crowded tank and a small one, and an arrival into the
    # small one (it looks for the fish's id in every tank here). Each used to lock the
    # other tank as it came, and waited for the crowded tank's tick: 11 and 23 times for
    # these 40 changes in two runs before the sets of gates, /health up to 36 ms.
    pond = d.post("/api/tanks", {"name": "pond", "initial_fish": 10, "max_fish": 200},
                  tcp=True, token=TEST_TOKEN).json()["tank"]["tank_id"] if tank else None
    waits0 = metric_sum(d, "tankworld_sim_loop_lock_waits_total")
    mark = time.monotonic()
    moved, arrived = [], []

    # Two clients at once, moving in opposite directions: sets of gates that overlap
    # queue behind each other, and none waits for the other in a cycle.
    def move_and_arrive(src, dst):
        for _ in range(10):
            r = d.post("/api/tanks/%s/move" % src, {"destination_tank_id": dst}, timeout=60)
            # The crowded tank is created full: a move into it before one of its fish
            # died or left is refused, as the API says (CI once moved first).
            full = dst == tank and r.status == 409 and "tank_full" in r.body
            moved.append(200 if full else r.status)
            if r.status != 200:
                t.diag("move %s: %s" % (r.status, r.body[:200]))
            r = d.post("/api/outbox/reserve", {"source_tank_id": tank, "destination_server_id": "crowd",
                                              "destination_tank_id": pond, "connection_id": "c-crowd"})
            if r.status != 200:
                arrived.append(("reserve", r.status))
                continue
            res = r.json()
            r = d.post("/api/remote-transfer", {"transfer_id": res["transfer_id"], "destination_tank_id": pond,
                                                "source_server_id": "crowd", "source_tank_id": tank,
                                                "entity_data": res["entity_data"]},
                       tcp=True, token=TEST_TOKEN, timeout=60)
            ok = r.status == 200 and r.json().get("success") is True
            c = d.post("/api/outbox/%s/commit" % res["transfer_id"])
            arrived.append(200 if ok and c.status == 200 else ("arrive", r.status, "commit", c.status))

    clients = [threading.Thread(target=move_and_arrive, args=pair) for pair in ((tank, pond), (pond, tank))]
    for c in clients if tank else []:
        c.start()
    for c in clients if tank else []:
        c.join(300)
    waits = metric_sum(d, "tankworld_sim_loop_lock_waits_total") - waits0
    during = sorted(x for x, _, _ in probe.since(mark))
    t.diag("20 moves: %s; 20 arrivals: %s; the loop waited for a lock %d times; /health "
           "meanwhile: max %.1f ms" % ({c: moved.count(c) for c in set(moved)},
                                       {str(c): arrived.count(c) for c in set(arrived)}, waits,
                                       1e3 * (during[-1] if during else 0)))
    t.ok(moved == [200] * 20, "20 moves between the crowded tank and a small one are made "
         "(or refused as full, into the crowded one)", moved[:3])
    t.ok(arrived == [200] * 20, "20 arrivals into the small one are made and committed", arrived[:3])
    t.ok(waits <= 6, "the loop waited for a tank's lock at most 6 times for them (%d)" % waits)
    pf = d.get("/api/tanks/%s" % pond, tcp=True).json()["stats"]["fish_count"] if pond else 0
    t.ok(pf >= 20, "the small tank holds the fish that came (%d)" % pf)
    # Reads queue for one reader at a time, and at most 32 wait: a burst of 40 reads of a
    # 2,000-fish tank's state (each a tenth of a second or so to build) gets the rest
    # refused at once with 503 busy and Retry-After, and every read it takes is answered.
    small = d.post("/api/tanks", {"name": "burst", "initial_fish": 2000, "max_fish": 2000},
                   tcp=True, timeout=120, token=TEST_TOKEN)
    small_id = small.json()["tank"]["tank_id"] if small.status == 201 else None
    burst = []

    def read_burst():
        try:
            burst.append(d.get("/api/tanks/%s/state" % small_id, tcp=True, timeout=120))
        except OSError as e:
            burst.append(e)

    readers = [threading.Thread(target=read_burst) for _ in range(40)]
    for rt in readers:
        rt.start()
    for rt in readers:
        rt.join(180)
    codes = sorted(getattr(r, "status", str(r)) for r in burst)
    busy = [r for r in burst if getattr(r, "status", 0) == 503]
    t.diag("a burst of 40 reads: %s" % {c: codes.count(c) for c in set(codes)})
    t.ok(len(burst) == 40 and all(c in (200, 503) for c in codes) and busy and codes.count(200) >= 8,
         "a burst of reads beyond the queue is refused as busy, the rest answered",
         codes)
    t.ok(busy and all(r.headers.get("Retry-After") == "1" and jerr(r, 503, "busy") for r in busy),
         "a refused read says busy in JSON, with Retry-After: 1",
         busy[:1])
    t.ok(all(len(r.json()["entities"]) > 1000 for r in burst if getattr(r, "status", 0) == 200),
         "every read taken lists the tank")
    # A snapshot's copy and a GET /state's copy hold the tank's lock: its tick, and a
    # change from the loop, wait that long. They copied into fresh memory and faulted
    # every page in under the lock: 110-160 ms for this tank's snapshot (a 4 kB page
    # costs about 14 us to fault in on the 2-core VM), when the copy alone takes about
    # 4 ms; /health meanwhile up to 151 ms. The room for a copy is now made first,
    # without the lock.
    snap_held = metric_sum(d, 'tankworld_sim_copy_lock_held_seconds_max{copy="snapshot"}')
    state_held = metric_sum(d, 'tankworld_sim_copy_lock_held_seconds_max{copy="state"}')
    t.diag("the longest a copy held the lock: snapshot %.1f ms, GET /state %.1f ms" %
           (1e3 * snap_held, 1e3 * state_held))
    # (4-14 ms in plain builds; with the sanitizers 20 ms alone and 46 ms in a CI run
    # beside other tests, so their bound is wider.) Where the kernel gives the copy's big
    # arrays transparent huge pages, a copy into fresh memory holds the lock 33-50 ms
    # here, not 110-160 (6 December): an 80 ms bound let it pass, so the plain build's
    # is 25 ms, nearly twice the most seen. A GET /state's copy is smaller: it held the lock 25
    # ms before, 2-7 ms now (19 with the sanitizers); its bound guards against worse only.
    wide = 2 if os.environ.get("TW_SANITIZERS") == "yes" else 1
    snap_max = 160 if wide == 2 else 25
    t.ok(0 < snap_held < snap_max / 1e3, "a snapshot's copy of 20,000 fish held the tank's lock under %d ms (%.1f ms)"
         % (snap_max, 1e3 * snap_held))
    t.ok(0 < state_held < 0.05 * wide, "and a GET /state's copy under %d ms (%.1f ms)"
         % (50 * wide, 1e3 * state_held))
    # GET /lineage of the whole tank (up to 20,000 records: the crowd starves, and the
    # records of the dead leave with them): the answer was built with the tank's lock
    # held, 25-100 ms at this size (a second at 100,000 records; 435 ms here with the
    # mutant that puts it back). The records are now copied into room made first, and
    # the answer built after.
    lins = [d.get("/api/tanks/%s/lineage?limit=100000" % tank, tcp=True, timeout=120) for _ in range(3)]
    lj = [r.json() if r.status == 200 else {} for r in lins]
    t.ok(all(j.get("total", 0) > 5000 and len(j.get("records", [])) == j["total"] and
             all("living" in x for x in j["records"]) for j in lj),
         "GET /lineage lists every record of the crowded tank",
         [(r.status, j.get("total"), len(j.get("records", []))) for r, j in zip(lins, lj)])
    lin_held = metric_sum(d, 'tankworld_sim_copy_lock_held_seconds_max{copy="lineage"}')
    t.ok(0 < lin_held < 0.03 * wide, "and its copy held the tank's lock under %d ms (%.1f ms)"
         % (30 * wide, 1e3 * lin_held))
    # GET /poker/strategies names every fish by strategy: the ids are copied the same way
    # (9-31 ms under the lock at 100,000 fish before, 4 ms now; 1-10 and 0.3 ms here).
    r = d.get("/api/tanks/%s/poker/strategies" % tank, tcp=True, timeout=120)
    sj = r.json() if r.status == 200 else {}
    named = sum(x.get("fish_count", 0) for x in sj.get("strategies", []))
    t.ok(named > 5000 and named == sum(len(x.get("fish", [])) for x in sj.get("strategies", [])),
         "GET /poker/strategies names every fish of the crowded tank (%d)" % named)
    strat_held = metric_sum(d, 'tankworld_sim_copy_lock_held_seconds_max{copy="strategies"}')
    t.ok(0 < strat_held < 0.03 * wide, "and its copy held the tank's lock under %d ms (%.1f ms)"
         % (30 * wide, 1e3 * strat_held))
    # Deleting it while snapshot rounds may hold it must not wait for them either, nor
    # for a reader of its state: the reader holds the slot, and the last holder frees it.
    late = {}

    def read_late():
        late["r"] = d.get("/api/tanks/%s/state" % tank, tcp=True, timeout=120)

    rt = threading.Thread(target=read_late)
    rt.start()
    time.sleep(0.05)
    t.eq(d.delete("/api/tanks/%s" % tank, tcp=True, token=TEST_TOKEN).status if tank else None, 200, "it can be deleted")
    rt.join(120)
    r = late.get("r")
    t.ok(r is not None and r.status in (200, 404) and (r.status == 404 or r.json()["tank_id"] == tank),
         "a read of its state begun before the deletion is answered (%s)" % (r and r.status))
    time.sleep(1.5)
    probe.stop()
    lat = probe.lat
    times = sorted(x for x, _, _ in lat)
    p95 = times[int(len(times) * 0.95)] if times else 9
    t.diag("/health: %d answers, median %.1f ms, p95 %.1f ms, max %.1f ms" %
           (len(times), 1e3 * times[len(times) // 2], 1e3 * p95, 1e3 * times[-1]))
    t.ok(all(s == 200 for _, s, _ in lat) and len(lat) > 50, "/health answered throughout (%d)" % len(lat))
    med = times[len(times) // 2]
    t.ok(med < 0.05, "/health answers within 50 ms (median %.1f ms, p95 %.1f ms)" % (1e3 * med, 1e3 * p95))
    # The loop never waits for a tick or a snapshot: before, it waited minutes. The
    # stragglers of about a second this bound once allowed for were mostly the test's
    # own: its probe was a thread, which waited while the test parsed a state.
    t.ok(times[-1] < 1.0, "no /health answer took 1 s (max %.1f ms)" % (1e3 * times[-1]))
    # The final snapshot may have to finish a round encoding 20,000 fish first.
    t.eq(d.stop(timeout=180), 0, "exits 0")
finally:
    if probe:
        probe.stop()
    finish(t, root, [d])
t.done()
