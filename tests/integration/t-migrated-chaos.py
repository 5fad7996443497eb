#!/usr/bin/env python3
"""Chaos: three servers, connections both ways around a ring at 100% with a 0.2 s
interval, and every few seconds a random daemon (any of the nine) is killed with
SIGKILL (or stopped with SIGSTOP for a while) and started again. At the end every
daemon runs again, the connections are removed, everything settles, and the audit
counts fish lost and duplicated: both must be 0.

CHAOS_SECONDS sets the duration (default 20: the short variant run by `make check`;
`make soak` runs it for SOAK_SECONDS, default 300). CHAOS_SEED repeats a run."""
import os
import random
import shutil
import signal
import time

from migratedlib import Cluster, conservation, migrated_built, simd_built
from twlib import Tap, tmpdir, wait_until

if not simd_built() or not migrated_built():
    print("1..0 # SKIP simd not built" if not simd_built() else "1..0 # SKIP migrated not built")
    raise SystemExit(0)

t = Tap()
SECONDS = float(os.environ.get("CHAOS_SECONDS", "20"))
seed = int(os.environ.get("CHAOS_SEED", str(random.randrange(1 << 30))))
rnd = random.Random(seed)
t.diag("chaos: %.0f s, seed %d (CHAOS_SEED to repeat)" % (SECONDS, seed))
root = tmpdir("twmc")
cl = Cluster(root, 3, "chaos-token-0123456789abcdef",
             extra={"migration.check_interval": "0.2", "migration.request_timeout": "1",
                    "sim.tick_rate": "5"})
faults = {"kill": 0, "stop": 0}
try:
    cl.start()
    tanks = [s.create_tank("chaos-%s" % s.id, 30, max_fish=2000) for s in cl.servers]
    expected = set()
    for p in cl.places():
        expected |= set(p)
    t.ok(len(expected) >= 90, "%d fish in paused tanks (90 in ours)" % len(expected))
    n = len(cl.servers)
    for i, s in enumerate(cl.servers):
        for j, direction in (((i + 1) % n, "right"), ((i - 1) % n, "left")):
            r = s.mig.post("/api/connections", {
                "id": "%s-%s" % (s.id, direction), "sourceId": tanks[i], "destinationId": tanks[j],
                "destinationServerId": cl.servers[j].id, "probability": 100,
                "direction": direction})
            t.ok(r.status == 201, "%s -> %s (%s)" % (s.id, cl.servers[j].id, direction), r)

    end = time.time() + SECONDS
    down = []  # (daemon, how, until)
    while time.time() < end:
        time.sleep(rnd.uniform(1.0, 3.0))
        now = time.time()
        for item in list(down):
            d, how, until = item
            if now >= until:
                if how == "stop":
                    d.signal(signal.SIGCONT)
                else:
                    d.start()
                down.remove(item)
        candidates = [d for s in cl.servers for d in s.daemons.values()
                      if not any(x[0] is d for x in down)]
        d = rnd.choice(candidates)
        if rnd.random() < 0.75:
            d.kill9()
            faults["kill"] += 1
            down.append((d, "kill", time.time() + rnd.uniform(0.3, 1.5)))
        else:
            d.signal(signal.SIGSTOP)
            faults["stop"] += 1
            down.append((d, "stop", time.time() + rnd.uniform(0.5, 2.0)))
    for d, how, until in down:
        if how == "stop":
            d.signal(signal.SIGCONT)
        else:
            d.start()
    t.ok(all(d.alive() for s in cl.servers for d in s.daemons.values()), "every daemon runs again")

    cl.delete_all_connections()
    t.ok(all(s.mig.get("/api/connections").json()["count"] == 0 for s in cl.servers),
         "connections removed")
    t.ok(cl.quiesce(120), "settled: nothing in flight, outboxes empty")
    places = cl.places()
    lost, dup, unexpected = conservation(places or [], expected)
    total_committed = 0
    for s in cl.servers:
        r = s.mig.get("/api/transfers?success_only=true&limit=10000")
        total_committed += r.json()["count"] if r.status == 200 else 0
    t.diag("chaos: migrations committed %d, faults injected %d (%d kill -9, %d SIGSTOP), "
           "fish lost %d, duplicated %d" % (total_committed, faults["kill"] + faults["stop"],
                                           faults["kill"], faults["stop"], len(lost), len(dup)))
    print("chaos: migrations committed %d, faults injected %d, fish lost %d, duplicated %d"
          % (total_committed, faults["kill"] + faults["stop"], len(lost), len(dup)), flush=True)
    t.ok(places is not None, "every simd answers")
    t.eq(len(lost), 0, "fish lost: 0")
    t.eq(len(dup), 0, "fish duplicated: 0")
    t.eq(len(unexpected), 0, "no fish from nowhere")
    t.ok(total_committed > 0, "migrations happened (%d)" % total_committed)
finally:
    for s in cl.servers:
        for d in s.daemons.values():
            d.signal(signal.SIGCONT)
    if t.failed:
        t.diag("seed %d" % seed)
        for s in cl.servers:
            t.diag("--- %s migrated\n%s" % (s.id, s.mig.log_tail(20)))
    cl.stop()
    shutil.rmtree(root, ignore_errors=True)
t.done()
