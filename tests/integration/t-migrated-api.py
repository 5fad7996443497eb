#!/usr/bin/env python3
"""migrated's API against a fake simd (migratedlib.FakeSimd) and a real discoveryd:
connection validation (every rule, both naming styles), upsert and the one-per-wall
rule, exits pushed to simd, persistence and a damaged file, cascade when a tank goes,
local moves through POST /api/migrations/run, the history and stats endpoints, the
token on TCP, hostile input that must change nothing, SIGHUP and SIGTERM."""
import json
import os
import random
import shutil
import signal
import time
import urllib.parse

from migratedlib import FakeSimd, metric, migrated_built, server_info
from twlib import Daemon, Tap, base_ports, crc32c, tmpdir, wait_until, write_token

t = Tap()
if not migrated_built():
    print("1..0 # SKIP migrated not built")
    raise SystemExit(0)

root = tmpdir("twma")
port, port2 = base_ports(2)
token = "migr-token-0123456789abcdef"
write_token(os.path.join(root, "token"), token)
common = {"security.token_file": os.path.join(root, "token"),
          "migration.check_interval": "1000", "migration.request_timeout": "2"}
disc = Daemon("discoveryd", root, "s1", port, extra=common)
mig = Daemon("migrated", root, "s1", port, extra=common)
sim = FakeSimd("s1", os.path.join(root, "run", "simd.sock"), token=token)


def is_json_error(r, status=None):
    try:
        j = r.json()
    except ValueError:
        return False
    return (status is None or r.status == status) and isinstance(j, dict) and \
        isinstance(j.get("error"), str) and isinstance(j.get("code"), str)


def conns():
    return mig.get("/api/connections").json()["connections"]


try:
    sim.start()
    disc.start()
    mig.start()
    A = sim.add_tank(fish=5)
    B = sim.add_tank(fish=1)
    C = sim.add_tank(fish=0)
    sim2_port = port2 + 1
    r = disc.post("/api/discovery/register", server_info("s2", sim2_port))
    t.eq(r.status, 200, "s2 registered with discoveryd")

    r = mig.get("/health")
    t.ok(r.status == 200 and r.json()["status"] == "healthy" and r.json()["server_id"] == "s1",
         "GET /health", r)
    r = mig.get("/health", tcp=True)
    t.eq(r.status, 200, "GET /health over TCP")
    t.eq(mig.get("/api/connections").json(), {"connections": [], "count": 0}, "no connections at first")

    # ---- validation: every bad body is a JSON 400/404 and stores nothing ----
    bad = [
        ({}, 400, "empty body"),
        ({"destinationId": B}, 400, "missing source"),
        ({"sourceId": A}, 400, "missing destination"),
        ({"sourceId": A, "destinationId": B, "probability": 101}, 400, "probability 101"),
        ({"sourceId": A, "destinationId": B, "probability": -1}, 400, "probability -1"),
        ({"sourceId": A, "destinationId": B, "probability": "50"}, 400, "probability as a string"),
        ({"sourceId": A, "destinationId": B, "probability": 50.5}, 400, "fractional probability"),
        ({"sourceId": A, "destinationId": B, "direction": "up"}, 400, "direction up"),
        ({"sourceId": A, "destinationId": B, "direction": 1}, 400, "direction a number"),
        ({"sourceId": "a b", "destinationId": B}, 400, "a space in a tank id"),
        ({"sourceId": A, "destinationId": "x" * 200}, 400, "an overlong tank id"),
        ({"sourceId": A, "destinationId": B, "id": "../etc"}, 400, "an id with a slash"),
        ({"sourceId": A, "destinationId": B, "sourceServerId": "bad id!"}, 400, "a bad server id"),
        ({"sourceId": A, "destinationId": A}, 400, "a tank to itself"),
        ({"sourceId": A, "source_tank_id": B, "destinationId": C}, 400, "camel and snake disagree"),
        ({"sourceId": A, "destinationId": B, "sourceServerId": "s2"}, 400, "a remote source"),
        ({"sourceId": "nosuch", "destinationId": B}, 404, "an unknown source tank"),
        ({"sourceId": A, "destinationId": "nosuch"}, 404, "an unknown local destination tank"),
        ({"sourceId": A, "destinationId": B, "destinationServerId": "s9"}, 404, "an unknown server"),
    ]
    for body, status, name in bad:
        r = mig.post("/api/connections", body)
        t.ok(is_json_error(r, status), "POST %s -> %d" % (name, status), r)
    r = mig.post("/api/connections", {"sourceId": A, "destinationId": B, "sourceServerId": "s2"})
    t.ok("create it on s2" in r.json()["error"], "a remote source says where to create it", r)
    r = mig.post("/api/connections", {"sourceId": "nosuch", "destinationId": B})
    t.eq(r.json().get("code"), "unknown_tank", "unknown tank code")
    r = mig.post("/api/connections", {"sourceId": A, "destinationId": B, "destinationServerId": "s9"})
    t.eq(r.json().get("code"), "unknown_server", "unknown server code")
    for raw in ["", "{", "[]", "null", '{"sourceId": "\xff"}', "{}" * 3, "[" * 100 + "]" * 100]:
        r = mig.post("/api/connections", raw=raw)
        t.ok(is_json_error(r, 400), "malformed body %r is a JSON 400" % raw[:12], r)
    r = mig.post("/api/connections", raw="x" * (100 * 1024))
    t.ok(is_json_error(r, 413), "a 100 KiB body (the limit is 64 KiB) is a JSON 413", r)
    r = mig.post("/api/connections", raw="x" * (200 * 1024))
    t.ok(r.status == 413, "a 200 KiB body is a 413 from evhttp itself, which stops reading it", r)
    t.eq(conns(), [], "nothing was stored by any bad request")

    # ---- create, defaults, snake_case, upsert ----
    r = mig.post("/api/connections", {"source_tank_id": A, "destination_tank_id": B,
                                      "source_server_id": None, "destination_server_id": None})
    t.eq(r.status, 201, "snake_case create is 201")
    c = r.json()
    t.eq(c, {"id": "%s->%s" % (A, B), "sourceId": A, "destinationId": B, "sourceServerId": "s1",
             "destinationServerId": "s1", "probability": 25, "direction": "right"},
         "defaults: id src->dst, probability 25, right, this server")
    r = mig.post("/api/connections", {"id": c["id"], "sourceId": A, "destinationId": B, "probability": 80})
    t.ok(r.status == 200 and r.json()["probability"] == 80, "same id again is an update (200)", r)
    t.eq(len(conns()), 1, "still one connection")
    r = mig.post("/api/connections", {"id": "other", "sourceId": A, "destinationId": C})
    t.ok(is_json_error(r, 409) and r.json()["code"] == "direction_taken",
         "a second connection through the same wall is a 409", r)
    r = mig.post("/api/connections", {"id": "left-one", "sourceId": A, "destinationId": C,
                                      "direction": "left", "probability": 0})
    t.eq(r.status, 201, "the other wall is free")
    r = mig.post("/api/connections", {"id": "remote", "sourceId": B, "destinationId": "far-tank",
                                      "destinationServerId": "s2", "probability": 0})
    t.eq(r.status, 201, "a remote connection to a known server")
    r = mig.post("/api/connections", {"id": "left-one", "sourceId": B, "destinationId": C,
                                      "direction": "right", "probability": 0})
    t.eq(r.status, 409, "an update may not take a wall that is already used")
    r = mig.post("/api/connections", {"id": "tcp", "sourceId": C, "destinationId": A}, tcp=True)
    t.ok(is_json_error(r, 401), "POST over TCP without the token is 401", r)
    r = mig.post("/api/connections", {"id": "tcp", "sourceId": C, "destinationId": A}, tcp=True,
                 token=token)
    t.eq(r.status, 201, "POST over TCP with the token")
    t.eq(mig.delete("/api/connections/tcp", tcp=True).status, 401, "DELETE over TCP needs the token")
    t.eq(mig.delete("/api/connections/tcp", tcp=True, token=token).status, 200, "DELETE with it")

    r = mig.get("/api/connections?tank_id=" + C)
    t.eq(sorted(x["id"] for x in r.json()["connections"]), ["left-one"],
         "?tank_id= matches either end")
    r = mig.get("/api/connections?tank_id=bad%20id")
    t.ok(is_json_error(r, 400), "a bad tank_id filter is a 400", r)
    r = mig.get("/api/connections/" + urllib.parse.quote(c["id"], safe=""))
    t.ok(r.status == 200 and r.json()["id"] == c["id"], "GET by a percent-encoded id", r)
    r = mig.get("/api/connections/" + c["id"])
    t.eq(r.status, 200, "GET by the raw id")

    # ---- exits follow the connections ----
    ok = wait_until(lambda: sim.tanks[A]["exits"]["right"] is not None and
                    sim.tanks[A]["exits"]["left"] is not None, 5)
    t.ok(ok, "exits pushed to simd for both walls of A", sim.tanks[A]["exits"])
    t.eq(sim.tanks[A]["exits"]["right"], {"destination_server_id": "s1", "destination_tank_id": B,
                                          "connection_id": c["id"]}, "right wall of A leads to B")
    t.eq(sim.tanks[B]["exits"]["right"]["destination_server_id"], "s2", "B's right wall is remote")
    t.eq(mig.delete("/api/connections/left-one").status, 200, "DELETE")
    t.ok(wait_until(lambda: sim.tanks[A]["exits"]["left"] is None, 5),
         "deleting a connection closes its wall", sim.tanks[A]["exits"])
    r = mig.delete("/api/connections/left-one")
    t.ok(is_json_error(r, 404), "DELETE again is 404", r)

    # ---- a local move through a pass ----
    # A misspelt field: stored without it, and the answer says so. What GET adds (state,
    # refusals...) comes back without a warning: a connection fetched and posted back.
    r = mig.post("/api/connections", {"id": c["id"], "sourceId": A, "destinationId": B, "probability": 100,
                                      "probabilty": 5})
    t.ok(r.status in (200, 201) and r.json()["probability"] == 100 and
         r.json().get("warnings") == ["unknown field 'probabilty' ignored"],
         "an unknown field in a connection: a warning names it", r.json())
    got = mig.get("/api/connections/" + c["id"]).json()
    r = mig.post("/api/connections", got)
    t.ok(r.status == 200 and "warnings" not in r.json() and "state" in got,
         "a connection as GET shows it, posted back: no warning", r.json())
    before_a, before_b = sim.fish_ids(A), sim.fish_ids(B)
    r = mig.post("/api/migrations/run")
    s = r.json()
    t.ok(r.status == 200 and s["moved_local"] == 1 and s["hits"] >= 1, "run: one local move", r)
    moved = before_a - sim.fish_ids(A)
    t.ok(len(moved) == 1 and moved <= sim.fish_ids(B) and len(sim.fish_ids(B)) == len(before_b) + 1,
         "the fish left A and arrived in B")
    fid = moved.pop() if moved else None
    r = mig.get("/api/transfers?tank_id=" + A)
    tr = r.json()["transfers"]
    t.ok(r.status == 200 and tr and tr[0]["state"] == "committed" and tr[0]["success"] is True and
         tr[0]["entity_old_id"] == fid and tr[0]["entity_new_id"] == fid and
         tr[0]["entity_type"] == "fish", "the move is in the history", r)
    if tr:
        r = mig.get("/api/transfers/" + tr[0]["transfer_id"])
        t.ok(r.status == 200 and r.json()["transfer_id"] == tr[0]["transfer_id"], "GET one transfer", r)
    t.ok(is_json_error(mig.get("/api/transfers/nope"), 404), "unknown transfer is 404")
    t.ok(is_json_error(mig.get("/api/transfers?limit=0"), 400), "limit=0 is 400")
    for bad in ("-5", "abc", "1.5", "", "10x"):
        t.ok(is_json_error(mig.get("/api/transfers?limit=" + bad), 400), "limit=%r is 400" % bad)
    # Above the maximum: clamped, and the answer says which limit it applied.
    for big in ("100000", "99999999999999999999999"):
        r = mig.get("/api/transfers?limit=" + big)
        t.ok(r.status == 200 and r.json().get("limit") == 10000 and r.json()["count"] >= 1,
             "limit=%s is cut to the maximum (10000), not refused" % big, r)
    r = mig.get("/api/transfers?limit=7")
    t.ok(r.status == 200 and r.json().get("limit") == 7, "a limit within range is echoed", r)
    t.ok(mig.get("/api/transfers").json().get("limit") == 50, "the default limit is said too")
    t.ok(is_json_error(mig.get("/api/transfers?success_only=maybe"), 400), "bad success_only is 400")
    r = mig.get("/api/tanks/%s/transfer-stats" % A)
    st = r.json()
    t.ok(r.status == 200 and st["transfers_out"] == 1 and st["transfers_out_success"] == 1 and
         st["transfers_in"] == 0 and st["tank_id"] == A and st["tank_name"] == sim.tanks[A]["name"],
         "transfer-stats of the source", r)
    st = mig.get("/api/tanks/%s/transfer-stats" % B).json()
    t.ok(st["transfers_in"] == 1 and st["transfers_in_success"] == 1, "transfer-stats of the destination", st)
    t.ok(is_json_error(mig.get("/api/tanks/nosuch/transfer-stats"), 404), "stats of an unknown tank is 404")

    # A fish that swims through A's right wall (a local exit) is delivered through
    # remote-transfer on this simd's Unix socket: the same exactly-once path.
    n_b = len(sim.fish_ids(B))
    xid = sim.exit_fish(A, "right")
    t.ok(xid is not None, "a fish left A through its right wall")
    t.ok(wait_until(lambda: not sim.outbox and len(sim.fish_ids(B)) == n_b + 1, 10),
         "the exit was delivered into B")
    r = mig.get("/api/transfers/" + (xid or "x")).json()
    t.ok(r.get("state") == "committed" and r["destination_server_id"] == "s1" and
         r["connection_id"] == c["id"], "and recorded as committed", r)
    t.ok(sim.count("POST", "/api/remote-transfer") >= 1, "through /api/remote-transfer")

    # Destination full: a refused move is recorded, nothing moves.
    sim.tanks[B]["max_fish"] = len(sim.fish_ids(B))
    before = (sim.fish_ids(A), sim.fish_ids(B))
    s = mig.post("/api/migrations/run").json()
    t.ok(s["moved_local"] == 0 and s["refused"] == 1, "a full destination refuses the move", s)
    t.eq((sim.fish_ids(A), sim.fish_ids(B)), before, "and nothing moved")
    tr = mig.get("/api/transfers?limit=1").json()["transfers"][0]
    t.ok(tr["state"] == "aborted" and "tank_full" in tr["error"], "the refusal is recorded", tr)
    sim.tanks[B]["max_fish"] = 100
    # The refusal paused the connection (1 s): the scheduler skips it meanwhile.
    s = mig.post("/api/migrations/run").json()
    t.ok(s["moved_local"] == 0 and s["skipped"]["backing_off"] == 1,
         "right after a refusal the connection is paused", s)
    time.sleep(1.1)

    # A paused source still sends (DESIGN §4); an empty one is skipped.
    sim.tanks[A]["paused"] = True
    s = mig.post("/api/migrations/run").json()
    t.eq(s["moved_local"], 1, "a paused source tank still sends fish")
    sim.tanks[A]["paused"] = False
    mig.post("/api/connections", {"id": "c-empty", "sourceId": C, "destinationId": A, "probability": 100})
    s = mig.post("/api/migrations/run").json()
    t.eq(s["skipped"]["empty"], 1, "an empty source tank is skipped")
    mig.delete("/api/connections/c-empty")

    # ---- cooldown: in one pass a fish moves at most once (A -> B -> C at 100%) ----
    P, Q, R = sim.add_tank(), sim.add_tank(), sim.add_tank()
    mig.post("/api/connections", {"id": "pq", "sourceId": P, "destinationId": Q, "probability": 100})
    mig.post("/api/connections", {"id": "qr", "sourceId": Q, "destinationId": R, "probability": 100})
    hopped = 0
    for i in range(20):
        with sim.lock:
            for tk in (P, Q, R):
                sim.tanks[tk]["fish"].clear()
            sim.tanks[P]["fish"]["p-fish"] = {"id": "p-fish"}
            sim.tanks[Q]["fish"]["q-fish"] = {"id": "q-fish"}
        s = mig.post("/api/migrations/run").json()
        if sim.fish_ids(R) != {"q-fish"} or sim.fish_ids(Q) != {"p-fish"}:
            hopped += 1
    t.eq(hopped, 0, "20 passes along a chain: the fish that arrived in Q never went on to R")
    t.eq(sim.count("GET", "/api/tanks/%s/state" % Q), 0, "without reading Q's state")
    # A pass takes its hits in a random order: when Q's comes first, nothing has come in
    # yet and the list is empty (P's move after it cannot bring in the fish that left).
    told = [ex for where, ex in sim.excepts if where == Q]
    t.ok(len(told) == 20 and all(ex in ([], ["p-fish"]) for ex in told) and told.count(["p-fish"]) >= 3,
         "Q's hit was told not to take the fish that came in from P", told)
    # A crowded Q the same: its state (megabytes) is never read, and the hit is made.
    # Before, a tank of more than about 8,000 fish failed every such hit (its state was
    # over the 4 MiB answer limit).
    with sim.lock:
        for tk in (P, Q, R):
            sim.tanks[tk]["fish"].clear()
            sim.tanks[tk]["max_fish"] = 100000
        sim.tanks[P]["fish"]["p-fish"] = {"id": "p-fish"}
        for i in range(50000):
            fid = "q-%05d" % i
            sim.tanks[Q]["fish"][fid] = {"id": fid}
    s = mig.post("/api/migrations/run").json()
    t.eq((s["moved_local"], s["errors"]), (2, 0), "a tank of 50,000 fish: both hits made")
    t.ok("p-fish" in sim.fish_ids(Q) and len(sim.fish_ids(R)) == 1 and "p-fish" not in sim.fish_ids(R),
         "... and the fish from P stayed in Q")
    # A move into Q whose answer is lost may have moved a fish nobody can name: Q's hit
    # waits for the next pass rather than risk sending that fish on.
    # (Hits come in a random order: the passes where P's move came first are the ones
    # that show it.)
    sim.fault = lambda m, path, b: ("drop",) if path == "/api/tanks/%s/move" % P else None
    withheld = made_after = 0
    for i in range(12):
        with sim.lock:
            sim.tanks[P]["fish"]["p-lost-%d" % i] = {"id": "p-lost-%d" % i}
            n0 = len(sim.calls)
        s = mig.post("/api/migrations/run").json()
        with sim.lock:
            order = [path for m, path, st in sim.calls[n0:] if path.endswith("/move")]
        p_first = order[:1] == ["/api/tanks/%s/move" % P]
        q_moved = "/api/tanks/%s/move" % Q in order
        withheld += p_first and not q_moved and s["errors"] == 2
        made_after += p_first and q_moved
    sim.fault = None
    t.ok(withheld >= 1 and made_after == 0,
         "after a move into Q with no answer Q's hit is not made (%d passes)" % withheld)
    t.eq([f for f in sim.fish_ids(R) if f.startswith("p-")], [], "... and no fish from P reached R")
    for cid in ("pq", "qr"):
        mig.delete("/api/connections/" + cid)
    for tk in (P, Q, R):
        del sim.tanks[tk]
    mig.post("/api/migrations/run")  # cascade of nothing: they have no connections left

    # ---- persistence ----
    before = conns()
    t.eq(mig.stop(), 0, "SIGTERM exits 0")
    path = os.path.join(mig.state_dir, "migration", "connections.json")
    raw = open(path, "rb").read()
    crc, length, text = raw.split(b" ", 2)
    saved = json.loads(text)
    t.ok(saved["version"] == 1 and len(saved["connections"]) == len(before), "connections.json written", saved)
    t.ok(raw.endswith(b"\n") and int(length) == len(text) - 1 and int(crc, 16) == crc32c(text[:-1]),
         "as one checksummed line", raw[:80])
    # One flipped character inside a value (the JSON still parses) is damage: set aside,
    # where it pointed a connection at a tank that does not exist without a word.
    at = raw.index(b'"sourceId":"') + 14
    flipped = raw[:at] + (b"0" if raw[at:at + 1] != b"0" else b"1") + raw[at + 1:]
    open(path, "wb").write(flipped)
    mig.start()
    h = mig.get("/health").json()
    t.ok(h["warnings"] and "cannot be used" in h["warnings"][0] and "checksum" in h["warnings"][0]
         and conns() == [], "a flipped character in connections.json: set aside and reported", h)
    t.eq(mig.stop(), 0, "stop")
    for n in os.listdir(os.path.dirname(path)):
        if n.startswith("connections.json.corrupt-"):
            os.unlink(os.path.join(os.path.dirname(path), n))
    open(path, "wb").write(raw)
    mig.start()
    # The refusal state (state, refusals, reason, retryInSeconds) is runtime only.
    runtime = ("state", "refusals", "reason", "retryInSeconds")
    strip = lambda cs: [{k: v for k, v in c.items() if k not in runtime} for c in cs]
    t.eq(strip(conns()), strip(before), "connections survive a restart")
    t.ok(len(mig.get("/api/transfers").json()["transfers"]) >= 3, "history survives a restart")
    log_path = os.path.join(mig.state_dir, "migration", "transfers.log")
    lines = open(log_path).read().splitlines()
    t.ok(all(json.loads(x)["transfer_id"] for x in lines), "transfers.log is JSON lines")

    # ---- cascade: the tank goes, its connections go ----
    r = mig.post("/api/connections", {"id": "to-c", "sourceId": B, "destinationId": C, "direction": "left"})
    t.eq(r.status, 201, "a connection to a tank about to go is made")
    del sim.tanks[C]
    mig.post("/api/migrations/run")
    t.ok(wait_until(lambda: all(x["id"] != "to-c" for x in conns()), 5),
         "a connection whose destination tank is gone is removed", conns())
    t.ok(wait_until(lambda: sim.tanks[B]["exits"]["left"] is None, 5), "and its wall closed")
    del sim.tanks[B]
    mig.post("/api/migrations/run")
    t.ok(wait_until(lambda: conns() == [], 5), "a tank's deletion removes every connection it had",
         conns())
    t.ok(metric(mig, "tankworld_migration_cascades_total") >= 3, "cascades counted")
    B = sim.add_tank(fish=2)

    # ---- hostile input changes nothing and crashes nothing ----
    mig.post("/api/connections", {"id": "keep", "sourceId": A, "destinationId": B})
    before = conns()
    rnd = random.Random(5)
    samples = [None, True, 1, -1, 10 ** 30, 1.5, "", "x" * 300, [], {}, "left", "s9", A, "a>b"]
    keys = ["id", "sourceId", "destinationId", "sourceServerId", "destinationServerId", "probability",
            "direction", "source_tank_id", "destination_tank_id", "source_server_id"]
    statuses = set()
    for i in range(300):
        body = {k: rnd.choice(samples) for k in rnd.sample(keys, rnd.randint(0, len(keys)))}
        r = mig.post("/api/connections", body)
        statuses.add(r.status)
    t.ok(all(s >= 400 for s in statuses), "300 random bodies are refused", statuses)
    for path in ["/api/connections/%2e%2e", "/api/connections/" + "a" * 170, "/api/transfers/%00",
                 "/api/tanks/%2F/transfer-stats", "/api/connections/a%"]:
        r = mig.get(path)
        t.ok(r.status in (400, 404) and is_json_error(r), "GET %s is a JSON 4xx" % path[:40], r)
    r = mig.req("PATCH", "/api/connections")
    t.ok(is_json_error(r, 405), "PATCH is 405", r)
    t.eq(conns(), before, "hostile requests changed nothing")
    t.ok(mig.alive(), "migrated is alive")

    # ---- a damaged connections.json is set aside and reported ----
    t.eq(mig.stop(), 0, "stop")
    path = os.path.join(mig.state_dir, "migration", "connections.json")
    with open(path, "w") as f:
        f.write('{"version":1,"connections":[{"sourceId":')
    mig.start()
    h = mig.get("/health").json()
    t.ok(h["warnings"] and "cannot be used" in h["warnings"][0] and "JSON" in h["warnings"][0],
         "/health reports the damaged file", h)
    t.ok(any(n.startswith("connections.json.corrupt-") for n in os.listdir(os.path.dirname(path))),
         "the damaged file is kept aside")
    t.eq(conns(), [], "started without connections")
    # Connections made under another server_id: said as such, not as damage.
    t.eq(mig.stop(), 0, "stop")
    with open(path, "w") as f:
        json.dump({"version": 1, "connections": [
            {"id": "renamed", "sourceId": "t1", "destinationId": "t2", "sourceServerId": "old-name",
             "destinationServerId": "old-name", "probability": 10, "direction": "right"}]}, f)
    mig.start()
    h = mig.get("/health").json()
    t.ok(h["warnings"] and "made on server old-name" in h["warnings"][0] and
         "set server_id back" in h["warnings"][0], "a server_id changed since: /health says so", h)
    t.eq(conns(), [], "and migrated started without those connections, the file kept")

    # ---- reload and metrics ----
    mig.signal(signal.SIGHUP)
    t.ok(wait_until(lambda: "configuration reloaded" in mig.log_tail(50), 5), "SIGHUP reloads")
    r = mig.get("/metrics")
    t.ok(r.status == 200 and "tankworld_migration_commits_total" in r.body and
         "tankworld_migration_delivery_seconds_bucket" in r.body, "GET /metrics", r)
    r = mig.get("/api/migrations")
    t.ok(r.status == 200 and r.json()["in_flight"] == 0 and "scheduler" in r.json(), "GET /api/migrations", r)
    t.eq(mig.stop(), 0, "SIGTERM exits 0")
finally:
    for d in (mig, disc):
        if d.alive():
            d.stop()
    sim.stop()
    if t.failed:
        t.diag(mig.log_tail(40))
    shutil.rmtree(root, ignore_errors=True)
t.done()
