#!/usr/bin/env python3
"""Every input of a running tank is journaled, so replay after kill -9 reproduces it
exactly: the viewer's food and added fish, fish bouncing off a wall the rate limit
keeps shut, a fish leaving through it, and a budget of 0 closing the wall. The tank
runs fast-forward in a small world so that fish meet the walls often. simd refuses to
start when replay disagrees with any journaled checkpoint, so each restart becoming
ready is itself a check; after the last one the paused tank must be the same to the
last bit (frame, every fish's id, place and energy, outbox). Randomised: prints its
seed and honours SEED."""
import random
import time

from twlib import Daemon, Tap, base_ports, finish, test_seed, tmpdir, wait_until

t = Tap()
seed = test_seed(t)
root = tmpdir("twci")
# One fish per 100 s through a wall: after the first, the others bounce.
d = Daemon("simd", root, "inputs", base_ports(1)[0],
           extra={"sim.snapshot_interval": "3600", "migration.per_connection_per_second": "0.01",
                  "server.log_level": "info"})


def metric(name):
    for line in d.get("/metrics").body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return -1


def exact(tank):
    """Everything a replay that went wrong would change, as printed (17 digits)."""
    s = d.get("/api/tanks/%s/state" % tank).json()
    fish = sorted((e["id"], e["x"], e["y"], e["energy"]) for e in s["entities"]
                  if e["kind"] == "fish")
    food = sorted((e["x"], e["y"]) for e in s["entities"] if e["kind"] == "food")
    out = sorted(x["fish_id"] for x in d.get("/api/outbox").json()["transfers"])
    return {"frame": s["frame"], "fish": fish, "food": food, "outbox": out}


def restart(why):
    mark = len(open(d.log_path, "rb").read())
    d.kill9()
    try:
        d.start()
        ok = True
    except RuntimeError:
        ok = False
    log = open(d.log_path, "rb").read()[mark:].decode("utf-8", "replace")
    t.ok(ok and "diverged" not in log, "%s: kill -9, and replay matched every checkpoint" % why,
         log[-1500:])
    return log


def inputs(tank, w, h, rounds):
    added, fed = [], 0
    for i in range(rounds):
        r = d.post("/api/tanks/%s/food" % tank, {"x": random.uniform(0, w),
                                                 "count": random.randint(1, 20)})
        fed += r.status == 201
        # The first round always adds one: with half a chance each, ten rounds of one
        # seed in a thousand added none, and the check below failed (CI, SEED=22187874).
        if i == 0 or random.random() < 0.5:
            r = d.post("/api/tanks/%s/fish" % tank, {"x": random.uniform(0, w),
                                                     "y": random.uniform(0, h)})
            if r.status == 201:
                added.append(r.json()["fish"]["id"])
        time.sleep(random.uniform(0.05, 0.3))
    t.eq(fed, rounds, "food dropped %d times" % rounds)
    return added


try:
    d.start()
    for x in d.get("/api/tanks").json()["tanks"]:
        d.post("/api/tanks/%s/pause" % x["tank"]["tank_id"])
    W, H = 400, 300
    A = d.post("/api/tanks", {"name": "inputs", "initial_fish": 30, "max_fish": 120, "width": W,
                              "height": H, "fast_forward": True}).json()["tank"]["tank_id"]
    dest = {"destination_server_id": "elsewhere", "destination_tank_id": "far-tank"}
    walls = {"left": dict(dest, connection_id="c-left"), "right": dict(dest, connection_id="c-right")}
    t.eq(d.req("PUT", "/api/tanks/%s/exits" % A, body=walls).status, 200, "both walls open")

    added = inputs(A, W, H, 10)
    t.ok(added, "fish added by hand: %d" % len(added))
    # Listing the outbox with ?lease=true, as migrated does, holds the walls' lease:
    # without it every fish would bounce and none would leave.
    bounced = wait_until(lambda: d.get("/api/outbox?lease=true").status == 200 and
                         metric("tankworld_sim_exits_bounced_total") >= 3, 60, 0.2)
    t.ok(bounced, "fish bounced off the walls (%d), %d left through them"
         % (metric("tankworld_sim_exits_bounced_total"), metric("tankworld_sim_exits_total")))
    restart("food, added fish, bounces and exits on a running tank")

    # migrated closes the left wall with a budget of 0: the simulation bounces fish there.
    shut = dict(walls, left=dict(walls["left"], budget=0))
    t.eq(d.req("PUT", "/api/tanks/%s/exits" % A, body=shut).status, 200, "left budget 0")
    inputs(A, W, H, 5)
    restart("a wall closed by its budget")
    # After the restart budgets are runtime state again: the left wall reopens, journaled.
    inputs(A, W, H, 5)
    t.eq(d.post("/api/tanks/%s/pause" % A).status, 200, "pause")
    before = exact(A)
    restart("the reopened wall and more inputs")
    after = exact(A)
    diffs = [k for k in before if before[k] != after[k]]
    t.ok(not diffs, "the paused tank is the same to the last bit: frame %d, %d fish, %d food, "
         "%d in the outbox" % (after["frame"], len(after["fish"]), len(after["food"]),
                               len(after["outbox"])),
         "\n".join("%s: before %s\n after %s" % (k, before[k], after[k]) for k in diffs))
    t.eq(d.stop(), 0, "simd exits 0")
finally:
    finish(t, root, [d])
t.done()
