#!/usr/bin/env python3
"""A hub restarted with a registry larger than one save batch (2,000) or one page (1,000)
starts, and every reader pages it to the end; a journal whose revisions are out of
order, shared or out of range does not hide servers; a hub whose pages do not move on
does not hold a worker in a loop. Each case is one an adversarial probe found: a hub of
2,100 servers crashed at every start, a worker joining a restarted hub of 1,500 knew 999
of them, and a hub answering "more" at the same revision was asked again at once, for
ever, and never heartbeated again."""
import json
import os
import time
import urllib.parse

from twlib import Daemon, StubServer, Tap, base_ports, finish, tmpdir, wait_until

t = Tap()
root = tmpdir("twrs")
hp, wp, gp = base_ports(3)
N = 2100
# The registered servers never heartbeat: a long interval keeps them online for the
# test, so that no status change takes a revision behind its back (a slow run, under
# the sanitizers, saw all 2,100 go degraded and renumbered between two pages).
hub = Daemon("discoveryd", os.path.join(root, "hub"), "hub", hp,
             extra={"discovery.heartbeat_interval": "60", "discovery.heartbeat_timeout": "600"})
worker = None
daemons = [hub]


def register(d, n):
    for i in range(n):
        d.post("/api/discovery/register", {"server_id": "s%05d" % i, "port": 8001,
                                           "host": "10.0.%d.%d" % (i // 250, i % 250 + 1)})


def count(d):
    return len(d.get("/api/discovery/servers").json()["servers"])


def page_through(d, listing=True):
    """Pages from since=0 as a worker does; returns (servers seen, pages, resets)."""
    p = d.get("/api/discovery/servers?since=0&limit=1000").json()
    seen, pages, resets = {s["server_id"] for s in p["servers"]}, 1, 0
    while p["more"] and pages < 20:
        q = "since=%d&epoch=%s&limit=1000" % (p["revision"], p["epoch"])
        if listing:
            q += "&listing=" + p["listing"]
        p = d.get("/api/discovery/servers?" + q).json()
        resets += p["reset"]
        seen |= {s["server_id"] for s in p["servers"]}
        pages += 1
    return seen, pages, resets


def journal_of(d):
    return os.path.join(d.state_dir, "discovery", "registry.journal")


def record(sid, rev):
    # Heard now and online: an old heartbeat would have the sweep evict it while the
    # test pages.
    return json.dumps({"server_id": sid, "host": "10.1.0.1", "port": 8001, "last_heartbeat": time.time(),
                       "status": "online", "rev": rev})


def start_with_journal(lines):
    """The hub stopped, its journal replaced by lines, started again; returns the ids
    it lists and whether it set the file aside as damaged."""
    hub.stop()
    path = journal_of(hub)
    for f in os.listdir(os.path.dirname(path)):
        if ".corrupt-" in f:
            os.unlink(os.path.join(os.path.dirname(path), f))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    hub.start()
    ids = {s["server_id"] for s in hub.get("/api/discovery/servers").json()["servers"]}
    aside = any(".corrupt-" in f for f in os.listdir(os.path.dirname(path)))
    return ids, aside


try:
    hub.start()
    register(hub, N)
    t.eq(count(hub), N + 1, "%d servers registered" % N)
    hub.stop()
    hub.start()
    t.eq(count(hub), N + 1, "a clean restart with more than one save batch (2,000): it starts, all kept")
    hub.kill9()
    hub.start()
    t.eq(count(hub), N + 1, "and after kill -9 too")

    # Paging from 0 after a restart: page 2 is below the revision the hub loaded, so it
    # sent the reader back to page 1 for ever. A reader naming the run's listing id goes on.
    seen, pages, resets = page_through(hub)
    t.ok(len(seen) == N + 1 and pages == 3 and resets == 0,
         "after a restart a reader pages from 0 to the end (%d servers, %d pages, %d resets)"
         % (len(seen), pages, resets))
    seen, pages, resets = page_through(hub, listing=False)
    t.ok(resets > 0, "(a reader that does not name the listing still starts over, as before)")
    r = hub.get("/api/discovery/servers?since=5&listing=nothex")
    t.ok(r.status == 400 and r.json().get("code") == "invalid_query", "a listing id must be 16 hex digits")

    worker = Daemon("discoveryd", os.path.join(root, "worker"), "worker", wp,
                    extra={"discovery.heartbeat_interval": "0.5", "discovery.hub_url": hub.url})
    daemons.append(worker)
    worker.start()
    t.ok(wait_until(lambda: count(worker) == N + 2, 30, 0.3),
         "a worker joining the restarted hub learns all %d servers" % (N + 1), count(worker))

    worker.stop()  # it would register again with the hub below

    # Journals made by hand: the revision list is what diffs page, in order.
    ids, aside = start_with_journal([record("r%d" % i, 1500 - i) for i in range(1500)])
    seen, pages, resets = page_through(hub)
    t.ok(not aside and len(ids) == 1501 and len(seen) == 1501 and resets == 0,
         "a journal whose records run backwards: loaded, and paging lists all 1,500",
         (aside, len(ids), len(seen), resets))
    for what, lines in (("two servers sharing a revision", [record("a", 3), record("b", 3)]),
                        ("a revision of 0", [record("a", 0)]),
                        ("a revision past 2^53", [record("a", 2 ** 53 + 1)]),
                        ("a revision of 2^63-1", [record("a", 2 ** 63 - 1)])):
        ids, aside = start_with_journal(lines)
        t.ok(aside and ids == {"hub"}, "a journal with %s is damage: set aside, started empty" % what,
             (aside, ids))
    hub.stop()

    # A hub that answers "more" at the revision asked for, and one whose revision json-c
    # would cap at 2^63-1: the worker gives up the sync, says so, and keeps heartbeating.
    beats, pulls = [], []
    mode = {"page": None}

    def stub(method, path, body):
        if method == "POST" and "/heartbeat/" in path:
            beats.append(1)
        if method == "GET" and "/api/discovery/servers" in path:
            pulls.append(urllib.parse.urlparse(path).query)
            return 200, mode["page"]
        return 200, {"status": "ok"}
    fake = StubServer(stub)
    stuck = {"servers": [], "removed": [], "revision": 7, "epoch": "00000000000000e7",
             "listing": "00000000000000aa", "more": True, "reset": False}
    garbage = dict(stuck, more=False, servers=[{"server_id": "bad id %d" % i, "host": "x", "port": 1}
                                               for i in range(500)])
    for what, page in (("pages that do not advance", stuck),
                       ("a revision past 2^63-1", dict(stuck, revision=2 ** 63 + 5, more=False)),
                       ("500 invalid entries a page", garbage)):
        mode["page"] = page
        del beats[:], pulls[:]
        w2 = Daemon("discoveryd", os.path.join(root, "w2"), "worker2", gp,
                    extra={"discovery.heartbeat_interval": "0.5", "discovery.hub_url": fake.url})
        daemons.append(w2)
        w2.start()
        ok = wait_until(lambda: len(beats) >= 6, 10, 0.2)
        t.ok(ok and len(pulls) < 60, "a hub sending %s: the worker keeps heartbeating (%d beats) and "
             "does not pull in a loop (%d pulls)" % (what, len(beats), len(pulls)))
        if page is garbage:
            lines = [x for x in w2.log_tail(5000).splitlines() if "invalid server" in x]
            t.ok(lines and "500 invalid server(s)" in lines[0] and len(lines) <= len(pulls),
                 "and logs one line a page, not one an entry (%d lines, %d pulls)" % (len(lines), len(pulls)))
        else:
            t.ok(("do not advance" if page is stuck else "not a revision") in w2.log_tail(200),
                 "and says why", w2.log_tail(20))
        w2.stop()
        daemons.remove(w2)
    fake.close()
finally:
    finish(t, root, daemons, 30)
t.done()
