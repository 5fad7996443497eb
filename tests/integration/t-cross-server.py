#!/usr/bin/env python3
"""The flow of the original's test_cross_server_migration.sh (spec §3.1), step by step,
against two tankworld servers started with environment variables only, everything through
their doors: register each server with the other by copying /api/servers/local, read the
tank ids and fish counts, create the connection with a snake_case body, see a fish leave
server 1 and arrive on server 2, list the transfers and the camelCase connections, and
check conservation. Unlike the original it pauses both tanks first, so that births and
deaths cannot hide a migration or fake one, and it follows one fish by id."""
from twlib import Tap, free_port, interrupt, request, start_tankworld, tmpdir, wait_until

t = Tap()
root = tmpdir("twcs")
ports = [free_port() for _ in range(2)]  # never the same twice (twlib reserves them)
procs = []


def door(i, method, path, body=None):
    try:
        return request(method, url="http://127.0.0.1:%d" % ports[i], path=path, body=body, timeout=10)
    except OSError:
        return None


def fish(i, tank):
    r = door(i, "GET", "/api/tanks/%s/state" % tank)
    return {e["id"] for e in r.json()["entities"] if e["kind"] == "fish"} if r and r.status == 200 else set()


try:
    # 1. TANK_SERVER_ID=server-1 TANK_API_PORT=8001 python -m backend.main (and server-2/8002)
    for i in range(2):
        procs.append(start_tankworld(root, "server%d.log" % (i + 1), TANK_SERVER_ID="server-%d" % (i + 1),
                                     TANK_API_PORT=ports[i], DISCOVERY_SERVER_URL=None))
    # 2. /health on each port
    for i in range(2):
        t.ok(wait_until(lambda: getattr(door(i, "GET", "/health"), "status", 0) == 200, 30, 0.2),
             "server-%d answers /health on its door" % (i + 1))
    # 3. each server's /api/servers/local registered with the other
    info = [door(i, "GET", "/api/servers/local") for i in range(2)]
    t.ok(all(r and r.status == 200 for r in info), "/api/servers/local on both doors", info)
    for i in range(2):
        r = door(1 - i, "POST", "/api/discovery/register", info[i].json())
        t.ok(r and r.status == 200 and r.json().get("status") == "registered"
             and r.json().get("server_id") == "server-%d" % (i + 1),
             "server-%d registered with server-%d" % (i + 1, 2 - i), r)
    # 4. tank ids and fish counts
    tanks = [door(i, "GET", "/api/tanks").json()["tanks"][0]["tank"]["tank_id"] for i in range(2)]
    for i in range(2):
        t.eq(door(i, "POST", "/api/tanks/%s/pause" % tanks[i]).status, 200, "server-%d's tank paused" % (i + 1))
    counts = [door(i, "GET", "/api/tanks/%s" % tanks[i]).json()["stats"]["fish_count"] for i in range(2)]
    t.ok(counts[0] > 0, "fish counts read: %d and %d" % tuple(counts))
    before = [fish(0, tanks[0]), fish(1, tanks[1])]
    # 5. the connection, snake_case
    r = door(0, "POST", "/api/connections", {
        "source_tank_id": tanks[0], "destination_tank_id": tanks[1], "source_server_id": "server-1",
        "destination_server_id": "server-2", "probability": 100, "direction": "right"})
    t.ok(r and r.status in (200, 201) and r.json().get("id"), "connection created with a non-empty id", r)
    # 6. monitor (the original: 12 x 5 s)
    moved = wait_until(lambda: len(fish(0, tanks[0])) < counts[0] and len(fish(1, tanks[1])) > counts[1], 60, 0.5)
    t.ok(moved, "migration detected: server 1's count went down and server 2's up")
    arrived = (fish(1, tanks[1]) - before[1]) & before[0]
    t.ok(arrived, "a fish of server 1 is now in server 2's tank, with the same id", arrived)
    # 7. transfers on each server
    r = door(0, "GET", "/api/transfers?limit=5")
    t.ok(r and r.status == 200 and any(x.get("success") for x in r.json()["transfers"]),
         "server 1 lists successful transfers", r)
    r = door(1, "GET", "/api/transfers?limit=5")
    t.ok(r and r.status == 200 and "transfers" in r.json(), "server 2 lists its transfers", r)
    # 8. connections, camelCase, remote
    r = door(0, "GET", "/api/connections")
    cs = r.json()["connections"] if r and r.status == 200 else []
    t.ok(any(c.get("sourceId") == tanks[0] and c.get("destinationId") == tanks[1]
             and c.get("sourceServerId") != c.get("destinationServerId") for c in cs),
         "server 1's connections in camelCase, the remote one among them", r)
    # 9. conservation (the original only printed it)
    door(0, "DELETE", "/api/connections/" + cs[0]["id"].replace(">", "%3E")) if cs else None

    def settled():
        r = door(0, "GET", "/api/migrations")
        return r and r.status == 200 and r.json().get("in_flight") == 0
    wait_until(settled, 30, 0.2)
    after = fish(0, tanks[0]) | fish(1, tanks[1])
    t.eq(len(fish(0, tanks[0])) + len(fish(1, tanks[1])), sum(counts), "the total is conserved")
    t.ok(after == before[0] | before[1], "every fish is still there, once")
finally:
    interrupt(procs)
t.done()
