#!/usr/bin/env python3
"""A worker applies a hub's diff page in the right order. A server unregistered on the
hub and registered again is two changes: the old entry's removal and the new entry.
When one page holds both, the worker must end with the server listed: it used to apply
the removal last, and dropped a live server 3 s later. The hub here is a stand-in that
answers exactly such a page, so the check does not depend on timing."""
import os
import time
import urllib.parse

from twlib import Daemon, StubServer, Tap, base_ports, finish, tmpdir, wait_until

t = Tap()
root = tmpdir("twdp")
EPOCH = "00000000000000e1"
PEER = {"server_id": "peer-a", "hostname": "a", "host": "127.0.0.1", "port": 9,
        "status": "online", "heartbeat_age_seconds": 0.1, "direct": True}
PEER42 = dict(PEER, server_id="42", hostname="b")
pages = []  # the revision each pull asked from


def hub_route(method, path, body):
    """Registration, heartbeats, and three diff pages: peer-a and server "42" listed
    (revision 2), then peer-a both removed and listed again, and a removal of the number
    42, which names no server (revision 4), then nothing new."""
    if method == "POST":
        return 200, {"status": "ok"}
    q = urllib.parse.parse_qs(urllib.parse.urlparse(path).query)
    since = int(q.get("since", ["0"])[0])
    if q.get("epoch", [""])[0] != EPOCH:
        since = 0
    pages.append(since)
    page = {"epoch": EPOCH, "more": False, "reset": since == 0}
    if since < 2:
        page.update(servers=[PEER, PEER42], removed=[], revision=2)
    elif since < 4:
        page.update(servers=[PEER], removed=["peer-a", 42], revision=4)
    else:
        page.update(servers=[], removed=[], revision=4)
    return 200, page


hub = StubServer(hub_route)
url = hub.url
w = Daemon("discoveryd", os.path.join(root, "w"), "worker", base_ports(1)[0],
           extra={"discovery.heartbeat_interval": "1", "discovery.heartbeat_timeout": "3",
                  "discovery.hub_url": url})


def peer():
    s = w.get("/api/discovery/servers?include_local=false").json()["servers"]
    return next((x for x in s if x["server_id"] == "peer-a"), None)


try:
    w.start()
    t.ok(wait_until(lambda: 4 in pages, 10), "the worker pulled the page with the removal and the return",
         pages)
    # Past the heartbeat timeout: an unlisted learned server would be dropped by now.
    time.sleep(4.5)
    p = peer()
    t.ok(p is not None and url in p.get("hubs", []),
         "peer-a is still known, listed by the hub, 4.5 s later", p)
    t.eq(p and p["status"], "online", "and online (the hub hears it)")
    s = w.get("/api/discovery/servers?include_local=false").json()["servers"]
    t.ok("42" in [x["server_id"] for x in s], "a removal that is a number, not a string, removes no server",
         [x["server_id"] for x in s])
    t.ok("evicted" not in w.log_tail(50), "nothing was evicted", w.log_tail(10))
    t.eq(w.stop(), 0, "the worker exits 0")

    # A hub whose pages carry an epoch that is not one (16 hex digits): the worker kept
    # it and sent it back in every later URL ("zz" drew 400s, "a b" a URL curl refused),
    # and never synced with that hub again, even once a real hub answered there (a probe).
    asked = []

    def liar_route(method, path, body):
        if method == "POST":
            return 200, {"status": "ok"}
        asked.append(path)
        bad = len(asked) <= 2
        return 200, {"epoch": "a b" if bad else EPOCH, "more": False, "reset": True, "revision": 2,
                     "servers": [] if bad else [PEER], "removed": []}
    liar = StubServer(liar_route)
    w2 = Daemon("discoveryd", os.path.join(root, "w2"), "worker2", base_ports(1)[0],
                extra={"discovery.heartbeat_interval": "0.5", "discovery.heartbeat_timeout": "3",
                       "discovery.hub_url": liar.url})
    w2.start()
    known = wait_until(lambda: any(x["server_id"] == "peer-a" for x in
                                   w2.get("/api/discovery/servers?include_local=false").json()["servers"]), 15)
    t.ok(known and not any("a%20b" in a or "a b" in a for a in asked),
         "a page with a malformed epoch is refused, never sent back, and the next good page syncs", asked[:5])
    t.eq(w2.stop(), 0, "that worker exits 0")
    liar.close()
finally:
    hub.close()
    finish(t, root, [w], 20)
t.done()
