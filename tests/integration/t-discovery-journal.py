#!/usr/bin/env python3
"""discoveryd's journal: a registry.json of an earlier version is read once and
replaced by the journal; removals survive a kill -9; a damaged journal is moved aside
and the daemon starts empty."""
import glob
import json
import os
import time

from twlib import Daemon, Tap, base_ports, finish, tmpdir

t = Tap()
root = tmpdir("twjr")
port = base_ports(1)[0]
d = Daemon("discoveryd", os.path.join(root, "d"), "jr-hub", port)
ddir = os.path.join(d.state_dir, "discovery")
os.makedirs(ddir, exist_ok=True)
legacy = {"version": 1, "updated_at": time.time(), "servers": [
    {"server_id": sid, "host": "10.0.0.%d" % i, "port": 8001, "last_heartbeat": time.time() - 1,
     "registered_at": time.time() - 100, "learned": False} for i, sid in enumerate(["old-a", "old-b"])]}
with open(os.path.join(ddir, "registry.json"), "w") as f:
    json.dump(legacy, f)


def ids():
    return sorted(s["server_id"] for s in d.get("/api/discovery/servers").json()["servers"])


try:
    d.start()
    t.eq(ids(), ["jr-hub", "old-a", "old-b"], "the old registry.json is loaded")
    t.ok(not os.path.exists(os.path.join(ddir, "registry.json")) and
         os.path.exists(os.path.join(ddir, "registry.journal")), "and replaced by the journal")
    d.post("/api/discovery/register", {"server_id": "new-c", "host": "10.0.0.9", "port": 8001})
    d.delete("/api/discovery/unregister/old-a")
    time.sleep(0.3)  # membership changes reach the journal within 20 ms
    before = d.get("/api/discovery/servers?since=0").json()
    d.kill9()
    d.start()
    t.eq(ids(), ["jr-hub", "new-c", "old-b"], "after kill -9: the registration and the removal kept")
    # A crash may lose the last revisions readers were given (a heartbeat's change is
    # saved within an interval); going on from the journal's revision gave them again
    # to new changes, which a worker past them never asked for (a probe: a server
    # registered after a hub's crash stayed unknown to its worker). A new epoch now.
    after = d.get("/api/discovery/servers?since=%d&epoch=%s" % (before["revision"], before["epoch"])).json()
    t.ok(after["epoch"] != before["epoch"] and after["reset"] and
         "new-c" in [s["server_id"] for s in after["servers"]],
         "after kill -9 the registry takes a new epoch: a reader lists it whole again",
         (before["epoch"], after.get("epoch"), after.get("reset")))
    r = d.get("/api/discovery/servers?since=0")
    t.ok(r.status == 200 and len(r.json()["epoch"]) == 16, "diffs carry the journal's epoch")
    epoch = r.json()["epoch"]
    d.stop()
    d.start()
    t.ok(d.get("/api/discovery/servers?since=0").json()["epoch"] != epoch,
         "a clean restart takes a new epoch too (a copy of a cleanly stopped hub put back "
         "later looks the same, and its revisions name other changes)")
    r = d.get("/api/discovery/servers?since=1&epoch=%s" % epoch).json()
    t.ok(r["reset"], "a revision from before the restart starts over (tombstones are not kept)")
    # A copy of the cleanly stopped hub put back: its revisions, counted on, named other
    # changes than the ones a worker had read, and the worker kept a server the copy
    # never knew online for good (an operator's audit).
    d.stop()
    copy = open(os.path.join(ddir, "registry.journal"), "rb").read()
    d.start()
    d.post("/api/discovery/register", {"server_id": "gone-y", "host": "10.0.0.10", "port": 8001})
    read = d.get("/api/discovery/servers?since=0").json()
    d.stop()
    open(os.path.join(ddir, "registry.journal"), "wb").write(copy)
    d.start()
    for i in range(read["revision"] + 5):  # past the revision the reader holds
        d.post("/api/discovery/heartbeat/new-c", {"server_id": "new-c", "host": "10.0.0.9", "port": 8001,
                                                   "tank_count": i})
    r = d.get("/api/discovery/servers?since=%d&epoch=%s" % (read["revision"], read["epoch"])).json()
    t.ok(r["reset"] and "gone-y" not in [x["server_id"] for x in r["servers"]],
         "a copy of the stopped hub put back: a reader of the lost revisions reads it whole again",
         (read["revision"], r.get("revision"), r.get("reset")))
    # The clean mark counts for one start only: a change read after it (a heartbeat's,
    # saved within an interval) and a crash before the next save take a new epoch too.
    d.post("/api/discovery/heartbeat/new-c", {"server_id": "new-c", "host": "10.0.0.9", "port": 8001,
                                               "tank_count": 7})
    seen = d.get("/api/discovery/servers?since=0").json()
    d.kill9()
    d.start()
    t.ok(d.get("/api/discovery/servers?since=0").json()["epoch"] != seen["epoch"],
         "a crash after a clean restart takes a new epoch as well")
    d.stop()
    path = os.path.join(ddir, "registry.journal")
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write("garbage\n" + text)
    d.start()
    t.eq(ids(), ["jr-hub"], "a damaged journal: the daemon starts empty")
    t.ok(glob.glob(path + ".corrupt-*") and "damaged" in d.log_tail(50),
         "and keeps the damaged file aside, saying so")
    r = d.get("/api/discovery/servers?since=abc")
    t.eq(r.status, 400, "since must be a revision")
    for q in ("%20-5", "%2B3", "%205", "-0"):
        r = d.get("/api/discovery/servers?since=" + q)
        t.ok(r.status == 400 and r.json().get("code") == "invalid_query",
             "since=%s: a revision is digits only (a blank and '-' wrapped to 2^64 - 5)" % q, r)
    r = d.get("/api/discovery/servers?since=0&status=online")
    t.eq(r.status, 400, "a diff cannot be filtered by status")
    for q in ("limit=1", "epoch=0123456789abcdef"):
        r = d.get("/api/discovery/servers?" + q)
        t.ok(r.status == 400 and r.json().get("code") == "invalid_query",
             "%s without since is a 400 (it pages a diff; it was ignored)" % q, r)
    # A page of 0 entries said "more" at the registry's current revision: a reader went on
    # from there and never saw a server. Limits outside 1..10000 are refused.
    for q in ("limit=0", "limit=10001"):
        r = d.get("/api/discovery/servers?since=0&" + q)
        t.ok(r.status == 400 and r.json().get("code") == "invalid_query",
             "since=0&%s is a 400" % q, r)
    # A reader ahead of the registry (a revision it cannot have been given in this epoch)
    # starts over; an empty page would have kept it past every change until it caught up.
    r = d.get("/api/discovery/servers?since=0").json()
    r = d.get("/api/discovery/servers?since=%d&epoch=%s" % (r["revision"] + 1000, r["epoch"])).json()
    t.ok(r["reset"] and "jr-hub" in [x["server_id"] for x in r["servers"]],
         "a revision ahead of the registry's is a reset with the whole list", r)
    # A server unregistered and registered again is one live entry to a reader of the
    # diff, not a removal beside it (a worker applying both could drop a live server).
    for sid in ("back-d", "gone-e"):
        d.post("/api/discovery/register", {"server_id": sid, "host": "10.0.0.7", "port": 8001})
    r = d.get("/api/discovery/servers?since=0").json()
    since, epoch = r["revision"], r["epoch"]
    d.delete("/api/discovery/unregister/back-d")
    d.delete("/api/discovery/unregister/gone-e")
    d.post("/api/discovery/register", {"server_id": "back-d", "host": "10.0.0.7", "port": 8001})
    r = d.get("/api/discovery/servers?since=%d&epoch=%s" % (since, epoch)).json()
    t.eq(([x["server_id"] for x in r["servers"]], r["removed"]), (["back-d"], ["gone-e"]),
         "a diff lists a server registered again as live only, and the other removal")
    t.eq(d.stop(), 0, "exits 0")
finally:
    finish(t, root, [d], 30)
t.done()
