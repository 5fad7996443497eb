#!/usr/bin/env python3
"""Power cuts for migrated (see t-powerloss.py for the model): its durable state is the
connection table. Connections are created, updated and deleted; at a random point the
power goes out; migrated restarts on the image the disk would hold, and every answered
create, update and delete must be there. SEED replays a run; CUTS sets the count."""
import os
import shutil
import sys
import threading

from twlib import BUILD, Daemon, Tap, base_ports, test_seed, tmpdir

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "powerloss"))
from reconstruct import reconstruct  # noqa: E402

import random  # noqa: E402

t = Tap()
seed = test_seed(t)
rng = random.Random(seed)
CUTS = int(os.environ.get("CUTS", "6"))
LIB = os.path.join(BUILD, "tests", "powerloss", "libpowerloss.so")
root = tmpdir("twpm")
(port,) = base_ports(1)
SID = "plm-server"
conf = os.path.join(root, "tankworld.conf")
with open(conf, "w") as f:
    f.write("[server]\nserver_id = %s\nbase_port = %d\nadvertise_host = 127.0.0.1\nstate_dir = %s/state\n"
            "runtime_dir = %s/run\nlog_level = info\n[migration]\ncheck_interval = 3600\n" % (SID, port, root, root))
disc = Daemon("discoveryd", root, SID, port)
sim = Daemon("simd", root, SID, port)
mig = None
migdir = os.path.join(root, "state", "migration")


def start_migrated(shadow):
    d = Daemon("migrated", root, SID, port)
    os.makedirs(shadow, exist_ok=True)
    d.env = {"LD_PRELOAD": LIB, "TW_POWERLOSS_DIR": migdir, "TW_POWERLOSS_SHADOW": shadow,
             "TW_POWERLOSS_DELAY_MS": "15",
             "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}
    return d.start()


def table(d):
    return {c["id"]: c["probability"] for c in d.get("/api/connections").json()["connections"]}


try:
    disc.start()
    sim.start()
    tanks = [sim.post("/api/tanks", {"name": "t%d" % i, "initial_fish": 1, "paused": True}).json()["tank"]["tank_id"]
             for i in range(4)]
    os.makedirs(migdir, exist_ok=True)
    gen = 0
    mig = start_migrated(os.path.join(root, "shadow0"))
    want = {}
    pending = None
    def change(delete):
        """One connection change; returns False when the cut came in the middle of it."""
        global pending
        a, b = rng.sample(tanks, 2)
        try:
            if delete:
                cid = rng.choice(sorted(want))
                pending = cid
                r = mig.delete("/api/connections/" + cid.replace(">", "%3E"), timeout=5)
                if r.status == 200:
                    del want[cid]
            else:
                p = rng.randint(1, 100)
                pending = (a, b)  # the id is not known before the answer
                r = mig.post("/api/connections", {"sourceId": a, "destinationId": b, "probability": p,
                                                  "direction": rng.choice(["left", "right"])}, timeout=5)
                if r.status in (200, 201):
                    want[r.json()["id"]] = p
            pending = None
            return True
        except Exception:
            return False

    for cut in range(1, CUTS + 1):
        # Cuts 1 and 2 come right after an answered create, then an answered delete: an
        # answer sent before its change is durable is caught every run, not only when a
        # random batch happens to end that way. The later cuts come at random.
        timer = None
        if cut > 2 and rng.random() < 0.5:
            timer = threading.Timer(rng.uniform(0.01, 0.5), mig.kill9)
            timer.start()
        for _ in range(rng.randint(2, 12)):
            if not change(bool(want) and rng.random() < 0.3):
                break  # cut in the middle of this request
        if cut <= 2:
            change(cut == 2 and bool(want))
        if timer:
            timer.join()
        mig.kill9()
        gen += 1
        shadow = os.path.join(root, "shadow%d" % (gen - 1))
        shutil.rmtree(migdir)
        reconstruct(shadow, migdir)
        mig = start_migrated(os.path.join(root, "shadow%d" % gen))
        got = table(mig)
        diff = {k for k in set(got) | set(want) if got.get(k) != want.get(k)}
        def explained(k):
            if isinstance(pending, tuple):
                return pending[0] in k and pending[1] in k
            return k == pending
        unexplained = sorted(k for k in diff if not explained(k))
        t.eq(unexplained, [], "cut %d: every answered connection change survived (%d connections)" % (cut, len(want)))
        # the unanswered change, if any, went one way or the other: learn which
        want = dict(got)
        pending = None
    t.ok(gen == CUTS, "%d power cuts" % gen)
    t.eq(mig.stop(), 0, "migrated exits 0")
finally:
    for d in (mig, sim, disc):
        if d is not None and d.alive():
            d.kill9()
    if t.failed and mig is not None:
        t.diag(mig.log_tail(15))
    shutil.rmtree(root, ignore_errors=True)
t.done()
