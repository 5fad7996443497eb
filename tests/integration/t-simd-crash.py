#!/usr/bin/env python3
"""kill -9 at random points during a loop of reserves and arrivals between two real
simd processes, then restart: with the tanks paused (no births or deaths), the union
of tanks and outboxes holds every fish id exactly once.

The loop plays migrated's part by hand: reserve on A, deliver to B with the transfer
id, commit on A. After a crash it resolves what is left in A's outbox the protocol's
way: ask B whether the transfer arrived; deliver again with the same id if unsure."""
import os
import random
import threading
import time

from twlib import Daemon, Tap, base_ports, finish, test_seed, tmpdir

t = Tap()
root = tmpdir("twsc")
p1, p2 = base_ports(2)
common = {"sim.snapshot_interval": "0.3", "sim.max_fish": "500", "server.log_level": "info"}
a = Daemon("simd", os.path.join(root, "a"), "crash-a", p1, extra=dict(common))
b = Daemon("simd", os.path.join(root, "b"), "crash-b", p2, extra=dict(common))
rng = random.Random(test_seed(t, "CRASH_SEED", default=1234))
ROUNDS = int(os.environ.get("CRASH_ROUNDS", "12"))


def outbox(d):
    return d.get("/api/outbox").json()["transfers"]


def settle(d):
    if not d.alive():
        d.start()


try:
    a.start()
    b.start()
    ta = a.post("/api/tanks", {"name": "src", "initial_fish": 60, "max_fish": 500, "paused": True}).json()["tank"]["tank_id"]
    tb = b.post("/api/tanks", {"name": "dst", "initial_fish": 20, "max_fish": 500, "paused": True}).json()["tank"]["tank_id"]
    for d in (a, b):  # the default tanks would breed: pause them too
        for tk in d.get("/api/tanks").json()["tanks"]:
            d.post("/api/tanks/%s/pause" % tk["tank"]["tank_id"])
    initial = sorted(a.fish_ids(ta) + b.fish_ids(tb))
    t.eq(len(initial), 80, "80 fish to start with")

    moved = kills = 0
    for rnd in range(ROUNDS):
        victim = rng.choice([a, b])
        delay = rng.uniform(0.05, 0.6)
        timer = threading.Timer(delay, victim.kill9)
        timer.start()
        deadline = time.time() + delay + 0.5
        direction = rnd % 2  # alternate A->B and B->A so both sides reserve and receive
        src, dst, st, dt = (a, b, ta, tb) if direction == 0 else (b, a, tb, ta)
        while time.time() < deadline:
            try:
                r = src.post("/api/outbox/reserve", {"source_tank_id": st, "destination_server_id": dst.server_id,
                                                    "destination_tank_id": dt}, timeout=3)
                if r.status != 200:
                    break
                tr = r.json()
                r2 = dst.post("/api/remote-transfer", {"transfer_id": tr["transfer_id"], "destination_tank_id": dt,
                              "source_server_id": src.server_id, "source_tank_id": st,
                              "entity_data": tr["entity_data"]}, timeout=3)
                if r2.status == 200:
                    src.post("/api/outbox/%s/commit" % tr["transfer_id"], timeout=3)
                    moved += 1
            except Exception:
                break  # the victim died under us: recovery below
        timer.join()
        kills += 1
        settle(a)
        settle(b)
        # Resolve leftovers in both directions.
        for s_, d_ in ((a, b), (b, a)):
            for tr in outbox(s_):
                full = s_.get("/api/outbox/%s" % tr["transfer_id"]).json()
                r = d_.post("/api/remote-transfer", {"transfer_id": tr["transfer_id"], "destination_tank_id": tr["destination_tank_id"],
                            "source_server_id": s_.server_id, "source_tank_id": tr["source_tank_id"],
                            "entity_data": full["entity_data"]})
                if r.status == 200:
                    s_.post("/api/outbox/%s/commit" % tr["transfer_id"])
                else:
                    s_.post("/api/outbox/%s/abort" % tr["transfer_id"])
    t.diag("%d fish moved across %d kill -9 rounds" % (moved, kills))
    t.ok(moved > 10, "fish moved between the crashes (%d)" % moved)
    final = sorted(a.fish_ids(ta) + b.fish_ids(tb))
    t.eq(len(outbox(a)) + len(outbox(b)), 0, "nothing left in flight after quiescence")
    dups = sorted({x for x in final if final.count(x) > 1})
    t.eq(dups, [], "no fish id is in two places")
    t.eq(sorted(set(initial) - set(final)), [], "no fish is lost")
    t.eq(final, initial, "the union of tanks and outboxes holds every fish exactly once")
    t.eq(a.stop(), 0, "A exits 0")
    t.eq(b.stop(), 0, "B exits 0")
finally:
    finish(t, root, [a, b], 15)
t.done()
