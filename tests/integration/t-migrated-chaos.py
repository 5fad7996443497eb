#!/usr/bin/env python3
"""Chaos: three servers, connections both ways around a ring at 100% with a 0.2 s
interval, and every few seconds a random daemon (any of the nine) is killed with
SIGKILL (or stopped with SIGSTOP for a while) and started again. At the end every
daemon runs again, the connections are removed, everything settles, and the audit
counts fish lost and duplicated: both must be 0. Plants migrate too (a plant weighs 3
fish in the scheduler's pick, so about a quarter of the hits move one), and are counted
the same way.

CHAOS_SECONDS sets the duration (default 20: the short variant run by `make check`;
`make soak` runs it for SOAK_SECONDS, default 300). CHAOS_SEED repeats a run."""
import json
import os
import random
import shutil
import signal
import subprocess
import time

from migratedlib import Cluster, conservation, metric, migrated_built, simd_built
from twlib import BUILD, WRAPPER, Tap, test_seed, tmpdir, wait_until

if not simd_built() or not migrated_built():
    print("1..0 # SKIP simd not built" if not simd_built() else "1..0 # SKIP migrated not built")
    raise SystemExit(0)

t = Tap()
SECONDS = float(os.environ.get("CHAOS_SECONDS", "20"))
seed = test_seed(t, "CHAOS_SEED")
rnd = random.Random(seed)
t.diag("chaos: %.0f s, seed %d (CHAOS_SEED to repeat)" % (SECONDS, seed))
root = tmpdir("twmc")
cl = Cluster(root, 3, "chaos-token-0123456789abcdef",
             extra={"migration.check_interval": "0.2", "migration.request_timeout": "1",
                    "sim.tick_rate": "5", "migration.plant_weight": "3"})
faults = {"kill": 0, "stop": 0, "migrated_kill": 0}
try:
    cl.start()
    tanks = [s.create_tank("chaos-%s" % s.id, 30, max_fish=2000) for s in cl.servers]
    KINDS = ("fish", "plant")
    expected = set()
    for p in cl.places(KINDS):
        expected |= set(p)
    fish0 = set()
    for p in cl.places():
        fish0 |= set(p)
    plants0 = expected - fish0
    t.ok(len(fish0) >= 90 and len(plants0) >= 9,
         "%d fish and %d plants in paused tanks (90 and 9 in ours)" % (len(fish0), len(plants0)))
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
            if d.name == "migrated":
                faults["migrated_kill"] += 1
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
    places = cl.places(KINDS)
    lost, dup, unexpected = conservation(places or [], expected)
    total_committed = plants_committed = 0
    for s in cl.servers:
        r = s.mig.get("/api/transfers?success_only=true&limit=10000")
        total_committed += r.json()["count"] if r.status == 200 else 0
        plants_committed += sum(1 for x in r.json()["transfers"] if x["entity_type"] == "plant") \
            if r.status == 200 else 0
    lost_plants = [f for f in lost if f in plants0]
    dup_plants = [d for d in dup if d[0] in plants0]
    t.diag("chaos: migrations committed %d, faults injected %d (%d kill -9, %d SIGSTOP), "
           "fish lost %d, duplicated %d; plant migrations %d, plants lost %d, duplicated %d"
           % (total_committed, faults["kill"] + faults["stop"], faults["kill"], faults["stop"],
              len(lost) - len(lost_plants), len(dup) - len(dup_plants), plants_committed,
              len(lost_plants), len(dup_plants)))
    print("chaos: migrations committed %d, faults injected %d, fish lost %d, duplicated %d, "
          "plants migrated %d, lost %d, duplicated %d"
          % (total_committed, faults["kill"] + faults["stop"], len(lost) - len(lost_plants),
             len(dup) - len(dup_plants), plants_committed, len(lost_plants), len(dup_plants)),
          flush=True)
    t.ok(places is not None, "every simd answers")
    t.eq(len(lost) - len(lost_plants), 0, "fish lost: 0")
    t.eq(len(dup) - len(dup_plants), 0, "fish duplicated: 0")
    t.eq(len(lost_plants), 0, "plants lost: 0")
    t.eq(len(dup_plants), 0, "plants duplicated: 0")
    t.eq(len(unexpected), 0, "no fish or plant from nowhere")
    t.ok(total_committed > 0, "migrations happened (%d)" % total_committed)
    t.ok(plants_committed > 0, "plants migrated (%d)" % plants_committed)
    # Settled: every transfer is committed or aborted, so no inbox entry is still needed.
    # Forgets are journaled (a crash does not bring them back), retried while the
    # destination is down, and sent again when the source's migrated restarts.
    def inboxes():
        return [metric(s.sim, "tankworld_sim_inbox_remembered") for s in cl.servers]
    inbox = wait_until(lambda: sum(inboxes()) == 0 and inboxes(), 60, interval=0.5) or inboxes()
    # A forget still unsent when its migrated was killed is sent again at its restart:
    # from the commits its history holds, and, for a commit whose answer it never got,
    # from the pending transfers its source's outbox no longer lists.
    t.ok(sum(inbox) == 0,
         "the inboxes hold only uncommitted transfers: %d left, %d migrated kill -9 (%s)"
         % (sum(inbox), faults["migrated_kill"], inbox))
    if sum(inbox):
        # Which entries are left, for the next look: a commit its source's history holds
        # (so its forget was sent, or resent at a restart, and got lost on the way), or
        # one no history holds (its migrated was killed with the commit in flight, and
        # nothing is left to name it).
        by_id = {x.id: x for x in cl.servers}
        known = []
        for src in cl.servers:
            r = src.mig.get("/api/transfers?success_only=true&limit=10000")
            for x in (r.json()["transfers"] if r.status == 200 else []):
                dst = by_id.get(x.get("destination_server_id"))
                if dst and dst.sim.get("/api/inbox/%s" % x["transfer_id"]).status == 200:
                    known.append("%s %s -> %s, %s attempt(s)" % (x["transfer_id"], src.id, dst.id,
                                                               x.get("attempts")))
        t.diag("inbox entries left: %d; of them committed in a source's history: %d"
               % (sum(inbox), len(known)))
        for k in known:
            t.diag("  " + k)
    # tankctl audit: simd's counters survived every kill -9 exactly (replay, not rewind).
    tankctl = os.path.join(BUILD, "tankctl", "tankctl")
    # The daemons run with the cluster's token (--set), not the one in their config file:
    # tankctl must get it too, or every other simd refuses its reads (401) and the audit
    # sums one server's counters only ("checked": false), which looks like an imbalance.
    p = subprocess.run(WRAPPER + [tankctl, "-c", cl.servers[0].sim.conf, "--set",
                                  "security.token_file=" + os.path.join(root, "token"), "--json", "audit"],
                       capture_output=True, text=True, timeout=120)
    try:
        bal = json.loads(p.stdout)["migration_balance"]
    except (ValueError, KeyError):
        bal = None
    t.ok(p.returncode == 0 and bal is not None and bal["checked"] and bal["difference"] == 0
         and bal["departures"] > 0,
         "tankctl audit: every server audited and the migration balance is exact (%s)" % bal,
         p.stdout[-1500:] + p.stderr[-400:])
    pb = (bal or {}).get("plants") or {}
    t.ok(pb.get("difference") == 0 and pb.get("departures", 0) > 0 and pb.get("in_flight") == 0,
         "tankctl audit: the plants' balance is exact too (%s)" % pb)
    try:
        aud = json.loads(p.stdout)
    except ValueError:
        aud = {}
    t.ok(aud.get("plants") == len(plants0) and aud.get("duplicated") == [],
         "tankctl audit counts %s plants (%d expected), none duplicated" % (aud.get("plants"), len(plants0)))
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
