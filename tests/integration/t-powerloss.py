#!/usr/bin/env python3
"""Power cuts, not just kill -9: simd runs under libpowerloss.so, which keeps the image
a disk would hold if the power went out (only fsync'd data and directory entries). At a
cut point the test kills simd, rebuilds its state directory from that image, starts a
new simd on it and checks every acknowledged operation:
  reserve -> the fish is in the outbox and not in its tank; arrive -> the fish is in the
  destination tank and the inbox knows the transfer; commit -> the outbox record is gone;
  abort -> the fish is back in its tank; move -> the fish is in the other tank;
  forget -> the inbox entry is gone.
Then it resolves what is in flight the protocol's way and checks that every fish id is in
exactly one place. Every watched fsync sleeps TW_POWERLOSS_DELAY_MS first, so an answer
that leaves before its record is durable reaches the test while the record is not in the
image, and the cut right after the answer catches it.

CUTS (default 12) sets the number of cuts; SEED replays a run."""
import os
import random
import shutil
import sys
import threading

from twlib import BUILD, Daemon, Tap, base_ports, test_seed, tmpdir

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "powerloss"))
from reconstruct import reconstruct  # noqa: E402

t = Tap()
seed = test_seed(t)
CUTS = int(os.environ.get("CUTS", "12"))
rng = random.Random(seed)
LIB = os.path.join(BUILD, "tests", "powerloss", "libpowerloss.so")
root = tmpdir("twpl")
(port,) = base_ports(1)
SERVER = "pl-server"


def daemon(gen):
    d = Daemon("simd", os.path.join(root, "g%d" % gen), SERVER, port,
               extra={"sim.snapshot_interval": "%.2f" % rng.uniform(0.2, 2.0),
                      "sim.max_fish": "500", "server.log_level": "info"})
    os.makedirs(d.state_dir, exist_ok=True)
    return d


def preload(d, shadow):
    os.makedirs(shadow, exist_ok=True)
    d.env = {"LD_PRELOAD": LIB, "TW_POWERLOSS_DIR": d.state_dir, "TW_POWERLOSS_SHADOW": shadow,
             "TW_POWERLOSS_DELAY_MS": "15",
             # ASan wants to be first in the library list; the interposer only wraps fsync.
             "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}


def fish_in(d, tank):
    return {e["id"] for e in d.get("/api/tanks/%s/state" % tank).json()["entities"] if e["kind"] == "fish"}


def outbox(d):
    return {r["transfer_id"]: r for r in d.get("/api/outbox").json()["transfers"]}


def in_inbox(d, tr):
    return d.get("/api/inbox/%s" % tr).status == 200


class World:
    """What the answers said, per fish and per transfer."""

    def __init__(self):
        self.where = {}       # fish -> tank id, or ("out", transfer) while reserved
        self.transfers = {}   # transfer -> {"fish","entity","arrived","committed","forgotten"}
        self.pending = None   # the operation whose answer never came: (kind, details)


def op_reserve(d, w, t1, t2):
    r = d.post("/api/outbox/reserve", {"source_tank_id": t1, "destination_server_id": SERVER,
                                       "destination_tank_id": t2}, timeout=10)
    if r.status != 200:
        return "reserve %d" % r.status
    j = r.json()
    w.transfers[j["transfer_id"]] = {"fish": j["fish_id"], "entity": j["entity_data"], "src": t1, "dst": t2,
                                     "arrived": False, "committed": False, "forgotten": False}
    w.where[j["fish_id"]] = ("out", j["transfer_id"])
    return "reserve"


def op_arrive(d, w, tr):
    x = w.transfers[tr]
    r = d.post("/api/remote-transfer", {"transfer_id": tr, "destination_tank_id": x["dst"],
                                        "source_server_id": SERVER, "source_tank_id": x["src"],
                                        "entity_data": x["entity"]}, timeout=10)
    if r.status == 200:
        x["arrived"] = True
        # From this answer on the fish lives in the destination tank, and a later move or
        # reserve may take it on before the source commits: the commit must not put it
        # back in the model (that once made a correct rebuild look like an undone move).
        w.where[x["fish"]] = x["dst"]
    return "arrive %d" % r.status


def op_commit(d, w, tr):
    x = w.transfers[tr]
    r = d.post("/api/outbox/%s/commit" % tr, timeout=10)
    if r.status == 200:
        x["committed"] = True  # the fish's place was learnt at its arrival
    return "commit %d" % r.status


def op_forget(d, w, tr):
    r = d.delete("/api/inbox/%s" % tr, timeout=10)
    if r.status == 200:
        w.transfers[tr]["forgotten"] = True
    return "forget %d" % r.status


def op_abort(d, w, tr):
    x = w.transfers[tr]
    r = d.post("/api/outbox/%s/abort" % tr, timeout=10)
    if r.status == 200:
        x["committed"] = True  # resolved
        w.where[x["fish"]] = x["src"]
    return "abort %d" % r.status


def op_move(d, w, t1, t2):
    r = d.post("/api/tanks/%s/move" % t1, {"destination_tank_id": t2}, timeout=10)
    if r.status == 200:
        w.where[r.json()["fish_id"]] = t2
    return "move %d" % r.status


def step(d, w, t1, t2):
    """One operation the protocol allows from here, chosen at random."""
    open_ = [tr for tr, x in w.transfers.items() if not x["committed"]]
    arrived_unforgotten = [tr for tr, x in w.transfers.items() if x["committed"] and x["arrived"] and not x["forgotten"]]
    choices = ["reserve", "move"]
    if open_:
        choices += ["deliver", "deliver", "abort"]
    if arrived_unforgotten:
        choices.append("forget")
    c = rng.choice(choices)
    a, b = (t1, t2) if rng.random() < 0.5 else (t2, t1)
    w.pending = {"kind": c, "src": a, "tr": None}
    r = _step(d, w, c, a, b, open_, arrived_unforgotten)
    w.pending = None  # the answer came: the model is exact again
    return r


def _step(d, w, c, a, b, open_, arrived_unforgotten):
    if c == "reserve":
        return op_reserve(d, w, a, b)
    if c == "move":
        return op_move(d, w, a, b)
    if c == "abort":
        tr = rng.choice(open_)
        w.pending["tr"] = tr
        if w.transfers[tr]["arrived"]:
            return op_commit(d, w, tr)  # an arrived fish must be committed, never aborted
        return op_abort(d, w, tr)
    if c == "forget":
        w.pending["tr"] = rng.choice(arrived_unforgotten)
        return op_forget(d, w, w.pending["tr"])
    tr = rng.choice(open_)
    w.pending["tr"] = tr
    if not w.transfers[tr]["arrived"]:
        return op_arrive(d, w, tr)
    return op_commit(d, w, tr)


def check(d, w, t1, t2, cut):
    """Every acknowledged answer holds in the rebuilt state."""
    tanks = {t1: fish_in(d, t1), t2: fish_in(d, t2)}
    ob = outbox(d)
    in_ob = {r["fish_id"] for r in ob.values()}
    p = w.pending or {}
    bad = []
    strays = 0
    for fish, place in w.where.items():
        if isinstance(place, tuple) and place[1] == p.get("tr"):
            continue  # its operation was cut before the answer: either outcome is right
        if (isinstance(place, str) and place == p.get("src") and p.get("kind") in ("reserve", "move")
                and fish not in tanks[place] and strays == 0
                and (fish in in_ob or fish in tanks[t2 if place == t1 else t1])):
            strays += 1  # the one fish an unanswered reserve or move may have taken
            continue
        if isinstance(place, tuple):
            tr = place[1]
            x = w.transfers[tr]
            if tr not in ob and not x["arrived"]:
                bad.append("reserved %s (transfer %s) is not in the outbox" % (fish[:8], tr[:8]))
            if fish in tanks[x["src"]]:
                bad.append("reserved %s is back in its tank" % fish[:8])
            if x["arrived"] and fish not in tanks[x["dst"]]:
                bad.append("arrived %s is not in its destination tank" % fish[:8])
        elif fish not in tanks[place]:
            bad.append("%s should be in %s" % (fish[:8], place[:8]))
    for tr, x in w.transfers.items():
        if tr == p.get("tr"):
            continue
        if not x["committed"] and tr not in ob:
            bad.append("open transfer %s is not in the outbox" % tr[:8])
        if x["committed"] and tr in ob:
            bad.append("resolved transfer %s is still in the outbox" % tr[:8])
        if x["arrived"] and not x["forgotten"] and not in_inbox(d, tr):
            bad.append("arrived transfer %s is not in the inbox" % tr[:8])
        if x["forgotten"] and in_inbox(d, tr):
            bad.append("forgotten transfer %s came back" % tr[:8])
    t.eq(bad, [], "cut %d: every acknowledged operation survived the power cut" % cut)


def resolve(d, w):
    """Finish what is in flight the protocol's way: deliver (idempotent) and commit, or
    abort only when the destination never received it."""
    for tr, rec in outbox(d).items():
        x = w.transfers.get(tr)
        full = d.get("/api/outbox/%s" % tr).json()
        r = d.post("/api/remote-transfer", {"transfer_id": tr, "destination_tank_id": rec["destination_tank_id"],
                                            "source_server_id": SERVER, "source_tank_id": rec["source_tank_id"],
                                            "entity_data": full["entity_data"]})
        if r.status == 200:
            d.post("/api/outbox/%s/commit" % tr)
            d.delete("/api/inbox/%s" % tr)
            if x:
                if not x["arrived"]:  # else it may have moved on since it arrived
                    w.where[x["fish"]] = x["dst"]
                x.update(arrived=True, committed=True, forgotten=True)
        else:
            d.post("/api/outbox/%s/abort" % tr)
            if x:
                x["committed"] = True
                w.where[x["fish"]] = x["src"]


gens = []
try:
    if not os.path.exists(LIB):
        raise RuntimeError("missing %s" % LIB)
    gen = 0
    d = daemon(gen)
    shadow = os.path.join(root, "shadow0")
    preload(d, shadow)
    d.start()
    gens.append(d)
    t1 = d.post("/api/tanks", {"name": "one", "initial_fish": 30, "max_fish": 500, "paused": True}).json()["tank"]["tank_id"]
    t2 = d.post("/api/tanks", {"name": "two", "initial_fish": 30, "max_fish": 500, "paused": True}).json()["tank"]["tank_id"]
    for tk in d.get("/api/tanks").json()["tanks"]:
        d.post("/api/tanks/%s/pause" % tk["tank"]["tank_id"])
    initial = fish_in(d, t1) | fish_in(d, t2)
    w = World()
    for f in fish_in(d, t1):
        w.where[f] = t1
    for f in fish_in(d, t2):
        w.where[f] = t2
    t.eq(len(initial), 60, "60 fish to start with")
    counts = {}
    for cut in range(1, CUTS + 1):
        nops = rng.randint(3, 25)
        mid = rng.random() < 0.4  # cut during an operation, not just after an answer
        timer = None
        if mid:
            timer = threading.Timer(rng.uniform(0.005, 0.12 * nops), d.kill9)
            timer.start()
        for _ in range(nops):
            try:
                kind = step(d, w, t1, t2)
                counts[kind.split()[0]] = counts.get(kind.split()[0], 0) + 1
            except Exception:
                break  # the cut came in the middle of this one: its answer never arrived
        if timer:
            timer.join()
        d.kill9()
        gen += 1
        nd = daemon(gen)
        shutil.rmtree(nd.state_dir, ignore_errors=True)
        reconstruct(shadow, nd.state_dir)
        shadow = os.path.join(root, "shadow%d" % gen)
        preload(nd, shadow)
        nd.start()
        gens.append(nd)
        d = nd
        check(d, w, t1, t2, cut)
        w.pending = None
        # An operation cut in the middle may or may not have happened: learn which from
        # the state, as migrated would, so the model is exact again before the next round.
        ob = outbox(d)
        for tr, x in w.transfers.items():
            if not x["committed"] and tr not in ob:
                x["committed"] = True  # a commit or abort that went through before the cut
                if not x["arrived"]:  # else its place was learnt at the arrival, maybe moved on since
                    x["arrived"] = in_inbox(d, tr)
                    w.where[x["fish"]] = x["dst"] if x["arrived"] else x["src"]
        for tr in ob:
            if tr not in w.transfers:  # a reserve whose answer never came
                full = d.get("/api/outbox/%s" % tr).json()
                w.transfers[tr] = {"fish": full["fish_id"], "entity": full["entity_data"],
                                   "src": full["source_tank_id"], "dst": full["destination_tank_id"],
                                   "arrived": False, "committed": False, "forgotten": False}
                w.where[full["fish_id"]] = ("out", tr)
        for tr, x in w.transfers.items():
            if not x["arrived"] and in_inbox(d, tr):
                x["arrived"] = True  # an arrival whose answer never came
                w.where[x["fish"]] = x["dst"]
            if x["arrived"] and not x["forgotten"] and not in_inbox(d, tr):
                x["forgotten"] = True
        tanks = {t1: fish_in(d, t1), t2: fish_in(d, t2)}
        for f in list(w.where):
            place = w.where[f]
            if isinstance(place, str) and f not in tanks[place]:
                other = t2 if place == t1 else t1
                if f in tanks[other]:
                    w.where[f] = other  # a move whose answer never came
    t.diag("operations: %s" % ", ".join("%s %d" % kv for kv in sorted(counts.items())))
    t.ok(counts.get("reserve", 0) >= 3 and counts.get("move", 0) >= 3, "reserves and moves were cut around")
    resolve(d, w)
    final = sorted(fish_in(d, t1)) + sorted(fish_in(d, t2))
    dups = sorted({x for x in final if final.count(x) > 1})
    t.eq(dups, [], "no fish id is in two tanks")
    t.eq(sorted(initial - set(final)), [], "no fish lost")
    t.eq(len(outbox(d)), 0, "nothing in flight after resolution")
    t.eq(d.stop(), 0, "simd exits 0")
finally:
    for g in gens:
        if g.alive():
            g.kill9()
    if t.failed:
        for g in gens[-2:]:
            t.diag(g.log_tail(15))
    shutil.rmtree(root, ignore_errors=True)
t.done()
