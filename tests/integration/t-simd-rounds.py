#!/usr/bin/env python3
"""Tanks made while a snapshot round runs, then kill -9: simd starts again, with every
tank whose creation was answered. A round lists the tanks after taking their snapshots;
one created in between has none yet. It was listed with snapshot_seq 0, which made the
manifest keep the journal "from record 1", whose segments earlier rounds had removed,
and the next start refused the state (a crash-timing audit: 4 of 5 seeds, within a few
tries). A 2,000-fish tank makes each round long, and rounds come every 0.5 s."""
import json
import os
import random
import signal
import threading
import time

from twlib import Daemon, Tap, base_ports, finish, test_seed, tmpdir

t = Tap()
root = tmpdir("twsr")
d = Daemon("simd", os.path.join(root, "a"), "rounds", base_ports(1)[0],
           extra={"sim.snapshot_interval": "0.5", "sim.max_fish": "5000", "server.log_level": "info"})
rng = random.Random(test_seed(t, "ROUNDS_SEED", default=1))
TRIES = int(os.environ.get("ROUNDS_TRIES", "6"))

try:
    d.start()
    # Reloads more often than snapshot_interval: each one started the interval over, and
    # no round ran again; the journal and a restart's re-simulation grew without end.
    man = os.path.join(d.state_dir, "sim", "manifest.json")
    seen = set()
    t_end = time.time() + 3
    while time.time() < t_end:
        d.signal(signal.SIGHUP)
        time.sleep(0.2)
        seen.add(open(man, "rb").read())
    t.ok(len(seen) >= 3, "a SIGHUP every 0.2 s with rounds every 0.5 s: the rounds go on (%d manifests in 3 s)"
         % len(seen))
    d.post("/api/tanks", {"name": "big", "initial_fish": 2000, "max_fish": 5000}, timeout=60)
    kept = set()
    started = 0
    # Every manifest written must name a segment holding its journal_from: the broken
    # ones said "from record 1" beside segments starting far later. Read as they come,
    # so that the check does not wait for a kill to land in their window.
    bad, stop = [], threading.Event()

    def watch():
        last = None
        while not stop.is_set():
            try:
                raw = open(man, "rb").read()
            except OSError:
                raw = None
            if raw and raw != last:
                last = raw
                m = json.loads(raw.split(b" ", 2)[2])
                if m["journal_segments"] and m["journal_segments"][0] > m["journal_from"]:
                    bad.append((m["journal_from"], m["journal_segments"][:2]))
            time.sleep(0.005)
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    for i in range(TRIES):
        t_end = time.time() + rng.uniform(2, 4)
        n = 0
        while time.time() < t_end:
            r = d.post("/api/tanks", {"name": "t%d" % n, "initial_fish": 1, "max_fish": 10, "paused": True},
                       timeout=10)
            if r.status == 201:
                tid = r.json()["tank"]["tank_id"]
                if n % 4 == 0:
                    kept.add(tid)  # answered: it must be there after the crash
                else:
                    d.delete("/api/tanks/" + tid, timeout=10)
            n += 1
            time.sleep(0.03)
        d.kill9()
        try:
            d.start()
        except RuntimeError as e:
            t.diag("try %d: %s" % (i, str(e).splitlines()[-1]))
            break
        started += 1
    stop.set()
    watcher.join()
    t.ok(not bad, "every manifest names the segment its journal starts in", bad[:3])
    t.eq(started, TRIES, "simd started again after each of %d kill -9 among tank creations" % TRIES)
    have = {x["tank"]["tank_id"] for x in d.get("/api/tanks?include_private=true").json()["tanks"]} if d.alive() else set()
    t.ok(kept <= have, "with every tank whose creation was answered (%d)" % len(kept), sorted(kept - have)[:3])
    if d.alive():
        t.eq(d.stop(), 0, "clean stop")
finally:
    finish(t, root, [d])
t.done()
