#!/usr/bin/env python3
"""Refused fish (issue 9, item 1), on two real servers. A connection whose destination
refuses definitively pauses (1 s doubling, reset by a success), and its wall lets no
fish out meanwhile, so over 20 s with the tanks running:
  - a full local destination causes at most 10 aborted transfers;
  - a deleted remote destination at most 5, and the connection is shown broken (API and
    tankctl, with the reason), logged once, and heals when the tank comes back.
Before the fix the same runs gave about 21 and 26 aborts."""
import os
import shutil
import subprocess
import time

from migratedlib import Cluster, migrated_built, simd_built
from twlib import BUILD, Tap, tmpdir, wait_until

if not (simd_built() and migrated_built()):
    print("1..0 # SKIP simd or migrated not built")
    raise SystemExit(0)

TANKCTL = os.path.join(BUILD, "tankctl", "tankctl")
WINDOW = float(os.environ.get("REFUSAL_WINDOW", "20"))
t = Tap()
root = tmpdir("twrf")
cl = Cluster(root, 2, "refusals-test-token-0123456789abcdef",
             extra={"sim.tick_rate": "30", "migration.check_interval": "1",
                    "migration.broken_check_interval": "1"})
s1, s2 = cl.servers


def aborted_into(server, tank):
    r = server.mig.get("/api/transfers?limit=10000&tank_id=" + tank)
    return [x for x in r.json()["transfers"]
            if x["destination_tank_id"] == tank and x["state"] == "aborted"]


def committed_into(server, tank):
    r = server.mig.get("/api/transfers?limit=10000&tank_id=" + tank)
    return [x for x in r.json()["transfers"]
            if x["destination_tank_id"] == tank and x["state"] == "committed"]


def connection(server, cid):
    for c in server.mig.get("/api/connections").json()["connections"]:
        if c["id"] == cid:
            return c
    return None


try:
    cl.start()
    # ---- a full local destination ----
    A = s1.create_tank("Source", 30, max_fish=100, paused=False)
    F = s1.create_tank("Full", 4, max_fish=4, paused=True)  # paused: no deaths, stays full
    r = s1.mig.post("/api/connections", {"id": "a-full", "source_tank_id": A,
                                         "destination_tank_id": F, "probability": 100,
                                         "direction": "right"})
    t.ok(r.status == 201, "a connection into a full local tank", r)
    time.sleep(WINDOW)
    n = len(aborted_into(s1, F))
    t.ok(1 <= n <= 10, "%g s into a full local tank: %d aborted transfer(s) (at most 10)" % (WINDOW, n),
         [(x["timestamp"], x["error"]) for x in aborted_into(s1, F)])
    c = connection(s1, "a-full")
    t.ok(c and c["state"] == "backing_off" and c["refusals"] >= 1 and "full" in (c["reason"] or ""),
         "the connection is shown backing off, with the reason", c)
    ex = s1.sim.get("/api/tanks/%s/exits" % A).json()["exits"]["right"]
    t.ok(ex and ex.get("budget") in (0, 1), "its wall in simd has a budget: closed, or one probe", ex)
    s1.mig.delete("/api/connections/a-full")

    # ---- a deleted remote destination ----
    B = s1.create_tank("Sender", 30, max_fish=100, paused=False)
    G = s2.create_tank("Gone", 2, max_fish=200, paused=True)
    r = s1.mig.post("/api/connections", {"id": "b-gone", "source_tank_id": B,
                                         "destination_tank_id": G, "destination_server_id": "s2",
                                         "probability": 100, "direction": "left"})
    t.ok(r.status == 201, "a connection into a remote tank", r)
    t.ok(wait_until(lambda: committed_into(s1, G), 30, 0.2), "fish arrive in the remote tank")
    # Keep a copy of s2's simd state with the tank, to bring it back later.
    s2.sim.stop()
    backup = os.path.join(root, "s2-sim-backup")
    shutil.copytree(os.path.join(s2.sim.state_dir, "sim"), backup)
    s2.sim.start()
    before = len(aborted_into(s1, G))
    r = s2.sim.delete("/api/tanks/" + G)
    t.ok(r.status == 200, "the remote tank is deleted", r)
    time.sleep(WINDOW)
    n = len(aborted_into(s1, G)) - before
    t.ok(n <= 5, "%g s into a deleted remote tank: %d aborted transfer(s) (at most 5)" % (WINDOW, n),
         [(x["timestamp"], x["error"]) for x in aborted_into(s1, G)][-10:])
    c = connection(s1, "b-gone")
    t.ok(c and c["state"] == "broken" and "unknown_tank" in (c["reason"] or ""),
         "GET /api/connections shows it broken, with the reason", c)
    p = subprocess.run([TANKCTL, "-c", s1.sim.conf, "connections"], capture_output=True, text=True,
                       timeout=30)
    line = [l for l in p.stdout.splitlines() if l.startswith("b-gone")]
    t.ok(p.returncode == 0 and line and "BROKEN" in line[0] and "unknown_tank" in p.stdout,
         "tankctl connections shows it broken, with the reason", p.stdout + p.stderr)
    with open(s1.mig.log_path, errors="replace") as f:
        logged = [l for l in f if "is broken" in l]
    t.ok(len(logged) == 1, "logged once (%d line(s))" % len(logged), "".join(logged))
    # The tank comes back (its server restored from the copy): the connection heals.
    s2.sim.stop()
    shutil.rmtree(os.path.join(s2.sim.state_dir, "sim"))
    shutil.copytree(backup, os.path.join(s2.sim.state_dir, "sim"))
    s2.sim.start()
    t.ok(s2.sim.get("/api/tanks/" + G).status == 200, "the tank is back on s2")
    healed = wait_until(lambda: connection(s1, "b-gone")["state"] == "ok", 20, 0.2)
    t.ok(healed, "the connection heals by itself", connection(s1, "b-gone"))
    n0 = len(committed_into(s1, G))
    t.ok(wait_until(lambda: len(committed_into(s1, G)) > n0, 30, 0.2), "and fish arrive again")
except Exception:
    import traceback
    t.ok(False, "no exception", traceback.format_exc())
    for s in cl.servers:
        for name, d in s.daemons.items():
            t.diag("%s %s:\n%s" % (s.id, name, d.log_tail(15)))
finally:
    cl.stop()
    shutil.rmtree(root, ignore_errors=True)
t.done()
