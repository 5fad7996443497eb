#!/usr/bin/env python3
"""Discovery without a single point of failure: two hubs that name each other and two
full servers (discoveryd, simd, migrated) that name both hubs.

- all four are listed online by both hubs within 2 s;
- the servers' lists say which hubs list whom, and tankctl servers shows it;
- with one hub killed (-9), a new worker still joins and every worker learns it within
  5 s, and migrations between the servers keep committing;
- with both hubs dead, a server whose discoveryd and migrated restart still knows its
  peer (its own cache) and keeps delivering, also once its cache lists the peer
  offline (unconfirmed); conservation is exact at the end;
- a hub answering garbage is logged and ignored."""
import json
import os
import re
import shutil
import subprocess
import time

from migratedlib import Server, conservation, migrated_built, servers_quiet, simd_built
from twlib import BUILD, WRAPPER, Daemon, StubServer, Tap, base_ports, tmpdir, wait_until, write_token

if not simd_built() or not migrated_built():
    print("1..0 # SKIP simd or migrated not built")
    raise SystemExit(0)

t = Tap()
root = tmpdir("twhubs")
token = "hubs-token-0123456789abcdef"
token_file = os.path.join(root, "token")
write_token(token_file, token)
ports = base_ports(6)
TIMING = {"security.token_file": token_file, "discovery.heartbeat_interval": "0.5",
          "discovery.heartbeat_timeout": "3", "discovery.evict_after": "3600",
          "migration.request_timeout": "1", "migration.check_interval": "0.5",
          "sim.tick_rate": "10"}
hub_url = ["http://127.0.0.1:%d" % p for p in ports[:2]]


def conf(extra):
    e = dict(TIMING)
    e.update(extra)
    return e


h1 = Daemon("discoveryd", os.path.join(root, "h1"), "h1", ports[0],
            extra=conf({"discovery.hub_url": hub_url[1]}))
h2 = Daemon("discoveryd", os.path.join(root, "h2"), "h2", ports[1],
            extra=conf({"discovery.hub_url": hub_url[0]}))
both = "%s, %s" % tuple(hub_url)
s1 = Server(root, "s1", ports[2], conf({"discovery.hub_url": both}))
s2 = Server(root, "s2", ports[3], conf({"discovery.hub_url": " ".join(hub_url)}))
w3 = Daemon("discoveryd", os.path.join(root, "w3"), "w3", ports[4],
            extra=conf({"discovery.hub_url": both}))
# w4 names h1 only: h2 learns it from h1.
w4 = Daemon("discoveryd", os.path.join(root, "w4"), "w4", ports[5],
            extra=conf({"discovery.hub_url": hub_url[0]}))
everyone = [h1, h2, s1.disc, s2.disc, w3, w4]


def listing(d):
    r = d.get("/api/discovery/servers")
    return {s["server_id"]: s for s in r.json()["servers"]} if r.status == 200 else {}


def online(d, ids):
    s = listing(d)
    return all(i in s and s[i]["status"] == "online" for i in ids)


def committed(s):
    r = s.mig.get("/api/transfers?limit=1000")
    if r.status != 200:
        return -1
    return sum(1 for x in r.json()["transfers"] if x["state"] == "committed")


try:
    t0 = time.time()
    for d in (h1, h2, s1.disc, s2.disc):
        d.start(wait=False)
    for d in (h1, h2, s1.disc, s2.disc):
        if not d.notify.wait_for("READY=1", 30):
            raise RuntimeError("not ready: " + d.log_tail())
    # From the moment all four are up: process start-up (slow under ASan on a loaded
    # machine) is not discovery's.
    t0 = time.time()
    four = ["h1", "h2", "s1", "s2"]
    ok = wait_until(lambda: online(h1, four) and online(h2, four), 2.0 - (time.time() - t0))
    t.ok(ok, "both hubs list all four online within 2 s (%.2f s)" % (time.time() - t0),
         {k: v["status"] for k, v in listing(h1).items()})

    w4.start()
    tw = time.time()
    t.ok(wait_until(lambda: "w4" in listing(h1), 2) and
         wait_until(lambda: "w4" in listing(h2), 0.5 + 1.0),
         "w4, registered with h1 only, is known to h2 within an interval (+1 s margin; "
         "%.2f s)" % (time.time() - tw))
    t.ok(wait_until(lambda: "w4" in listing(s2.disc), 3), "and s2 learns it through the hubs")
    t.eq(w4.stop(), 0, "w4 stops")
    ts = time.time()
    t.ok(wait_until(lambda: listing(h1).get("w4", {}).get("status") == "offline" and
                    listing(h2).get("w4", {}).get("status") == "offline", 3 + 2),
         "and is offline on both hubs within heartbeat_timeout + 2 s (%.2f s): hubs that "
         "learned it from each other do not keep it alive" % (time.time() - ts))

    for d in (s1.sim, s1.mig, s2.sim, s2.mig):
        d.start()
    t.ok(wait_until(lambda: online(s1.disc, four) and online(s2.disc, four), 5),
         "each server lists all four online")
    l1 = listing(s1.disc)
    t.eq(sorted(l1["s2"].get("hubs", [])), sorted(hub_url), "s1 sees s2 listed by both hubs")
    t.eq(sorted(l1["s1"].get("hubs", [])), sorted(hub_url), "s1 reaches both hubs")
    # The whole list is written by hand (a probe: through json-c, 20,000 servers held
    # the loop up to 573 ms); each entry is the one GET /api/discovery/servers/{id} gives.
    moving = ("heartbeat_age_seconds", "last_heartbeat_at", "uptime_seconds")
    diffs = []
    for sid, e in listing(s1.disc).items():
        one = s1.disc.get("/api/discovery/servers/" + sid).json()
        diffs += [(sid, k, e.get(k), one.get(k)) for k in set(e) | set(one)
                  if k not in moving and e.get(k) != one.get(k)]
    t.ok(not diffs, "each entry of the list equals the server's own answer, hubs included", diffs)
    health = s1.disc.get("/health").json()
    t.eq(sorted(h["url"] for h in health.get("hubs", []) if h["reached"]), sorted(hub_url),
         "/health names both hubs as reached")
    p = subprocess.run(WRAPPER + [os.path.join(BUILD, "tankctl", "tankctl"), "-c", s1.disc.conf,
                                  "--set", "security.token_file=" + token_file, "servers"],
                       capture_output=True, text=True, timeout=30)
    row = [ln for ln in p.stdout.splitlines() if ln.startswith("s2 ")]
    t.ok(p.returncode == 0 and "HUBS" in p.stdout and row and
         all(u[len("http://"):] in row[0] for u in hub_url),
         "tankctl servers shows the hubs listing s2", p.stdout + p.stderr)

    for s in (s1, s2):
        s.pause_all()
    A = s1.create_tank("hubs-A", 30, paused=True)
    B = s2.create_tank("hubs-B", 30, paused=True)
    before = [s1.fish_places(), s2.fish_places()]
    expected = set(before[0]) | set(before[1])
    ids = {}
    for src, dst, sa, sd in ((s1, s2, A, B), (s2, s1, B, A)):
        r = src.mig.post("/api/connections", {
            "source_tank_id": sa, "destination_tank_id": sd, "source_server_id": src.id,
            "destination_server_id": dst.id, "probability": 100, "direction": "right"})
        t.ok(r.status == 201, "connection %s -> %s" % (src.id, dst.id), r)
        ids[src.id] = r.json().get("id", "")
    t.ok(wait_until(lambda: committed(s1) > 0 and committed(s2) > 0, 10),
         "migrations commit both ways")

    # One hub dies: a new worker still joins, everyone learns it, migrations go on.
    h1.kill9()
    c1, c2 = committed(s1), committed(s2)
    tk = time.time()
    w3.start()
    learned = wait_until(lambda: all("w3" in listing(d) for d in (h2, s1.disc, s2.disc)), 5)
    t.ok(learned, "with h1 killed, w3 joins and h2, s1, s2 know it within 5 s (%.2f s)"
         % (time.time() - tk))
    t.ok(wait_until(lambda: committed(s1) > c1 and committed(s2) > c2, 10),
         "migrations keep committing with one hub down")

    # Both hubs dead; s1 restarts discoveryd and migrated and still delivers to s2.
    h2.kill9()
    time.sleep(1)
    s1.mig.stop()
    s1.disc.kill9()
    s1.disc.start()
    t.ok("s2" in listing(s1.disc), "s1's discoveryd, restarted with every hub down, knows s2",
         sorted(listing(s1.disc)))
    s1.mig.start()
    c1 = committed(s1)
    t.ok(wait_until(lambda: committed(s1) > c1, 15),
         "s1's restarted migrated delivers to s2 with both hubs dead (%d -> %d)"
         % (c1, committed(s1)))
    # Once nobody has told of s2 for heartbeat_timeout, s1's cache lists it offline, and
    # says nobody confirms it: migrated must keep delivering (it closed s2's wall, and
    # every transfer stopped, until a hub came back).
    def s2_seen():
        return s1.disc.get("/api/discovery/servers/s2").json()

    t.ok(wait_until(lambda: s2_seen().get("status") == "offline", 10) and s2_seen().get("confirmed") is False,
         "s1's cache lists s2 offline once nobody tells of it, not confirmed", s2_seen())
    c1 = committed(s1)
    t.ok(wait_until(lambda: committed(s1) > c1 + 2, 15),
         "and s1's migrated still delivers to s2 (%d -> %d)" % (c1, committed(s1)), s1.mig.log_tail(8))
    t.eq(s2.disc.get("/api/discovery/servers/s2").json().get("confirmed"), True,
         "a server's own entry is confirmed")

    for s in (s1, s2):
        r = s.mig.delete("/api/connections/" + ids[s.id].replace(">", "%3E"))
        t.eq(r.status, 200, "connection of %s deleted" % s.id)

    t.ok(servers_quiet((s1, s2)), "nothing in flight, outboxes empty")
    after = [s1.fish_places(), s2.fish_places()]
    lost, dup, unexpected = conservation(after, expected)
    t.ok(not lost and not dup and not unexpected, "every fish id in exactly one place",
         "lost %s dup %s unexpected %s" % (lost, dup, unexpected))
    t.eq(sum(len(p) for p in after), len(expected), "total conserved (%d)" % len(expected))

    # A hub answering garbage: logged, ignored, the cache stays.
    srv = StubServer(lambda method, path, body: (200, b'{"servers": "not a list", "revision": -3'),
                     ports[0])
    try:
        time.sleep(2)
        t.ok(s1.disc.alive() and "s2" in listing(s1.disc),
             "a hub answering garbage changes nothing on s1")
        t.ok("does not parse" in s1.disc.log_tail(400),
             "and s1 logs it")
    finally:
        srv.close()
    # A hub with revisions that sends more than the page asked for (1,000): refused whole,
    # none of it learned (applying 12,000 entries at once held the loop 100-250 ms).
    big = json.dumps({"servers": [{"server_id": "flood-%d" % i, "host": "198.18.0.1", "port": 9000,
                                   "hostname": "f", "status": "online"} for i in range(1001)],
                      "revision": 5000, "epoch": "00000000000000ab", "more": False}).encode()
    srv = StubServer(lambda method, path, body: (200, big), ports[0])
    try:
        t.ok(wait_until(lambda: "more than the 1000 asked for" in s1.disc.log_tail(400), 10),
             "a page of 1,001 servers from a hub with revisions is refused, saying why",
             s1.disc.log_tail(5))
        t.ok(s1.disc.alive() and not any(x.startswith("flood-") for x in listing(s1.disc))
             and "s2" in listing(s1.disc), "and none of it is learned")
    finally:
        srv.close()
    # Nor, from a hub without revisions (the original lists everything at once), a list
    # of more than 10,000: one of 95,000 held the loop 0.3-0.7 s at every pull.
    unpaged = json.dumps({"servers": [{"server_id": "flood-%d" % i, "host": "198.18.0.1", "port": 9000}
                                      for i in range(10001)]}).encode()
    srv = StubServer(lambda method, path, body: (200, unpaged), ports[0])
    try:
        t.ok(wait_until(lambda: "a list of 10001 entries without revisions, more than 10000"
                        in s1.disc.log_tail(400), 10),
             "a list of 10,001 servers from a hub without revisions is refused, saying why",
             s1.disc.log_tail(5))
        t.ok(s1.disc.alive() and not any(x.startswith("flood-") for x in listing(s1.disc)),
             "and none of it is learned")
    finally:
        srv.close()
    # A hub whose pages advance and never end: the worker asked for them for ever and
    # heartbeat it once. A sync now stops after what a full registry could need (4 x 102
    # + 8 pages at the default max_servers), and the next interval heartbeats again.
    beats = []

    def spin(method, path, body):
        if method == "POST":
            beats.append(path)
            return 200, {"status": "ok"}
        since = int(re.search(r"since=(\d+)", path).group(1))
        return 200, {"servers": [], "revision": since + 1, "epoch": "00000000000000ac", "more": True}
    srv = StubServer(spin, ports[0])
    try:
        t.ok(wait_until(lambda: "it sent more than 416 pages in one sync" in s1.disc.log_tail(400), 30),
             "a hub whose pages never end is left for the sync, saying why", s1.disc.log_tail(5))
        n = len(beats)
        t.ok(wait_until(lambda: len(beats) >= n + 2, 15),
             "and the worker goes on heartbeating it every interval (%d, then %d)" % (n, len(beats)))
    finally:
        srv.close()
    for d in (s1.mig, s1.sim, s2.mig, s2.sim, s1.disc, s2.disc, w3):
        t.eq(d.stop(), 0, "%s %s exits 0 on SIGTERM" % (d.server_id, d.name))
finally:
    if t.failed:
        for d in everyone + [s1.mig, s2.mig]:
            t.diag("--- %s %s\n%s" % (d.server_id, d.name, d.log_tail(25)))
    for d in everyone + [s1.sim, s1.mig, s2.sim, s2.mig]:
        if d.alive():
            d.kill9()
    shutil.rmtree(root, ignore_errors=True)
t.done()
