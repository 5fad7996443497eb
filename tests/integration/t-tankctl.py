#!/usr/bin/env python3
"""tankctl against two real servers on loopback (discoveryd + simd, and migrated when
it is built; s1 the hub, s2 a worker): every command's table and --json output, the
errors (unknown tank, bad usage, unreachable daemon, missing token), --server, and the
audit: a clean network, fish in flight, --save/--baseline/--expect, an artificially
duplicated fish (exit 3, named), a strict loss (exit 4), an injected fish that unbalances
the migration counters (exit 5), and a server that does not answer (exit 2, named)."""
import json
import os
import shutil
import signal
import subprocess
import unicodedata
import uuid

from migratedlib import server_info
from twlib import (BUILD, WRAPPER, Daemon, Tap, base_ports, free_port, metrics_problems, tmpdir, wait_until,
                   write_token)

TANKCTL = os.environ.get("TANKCTL") or os.path.join(BUILD, "tankctl", "tankctl")
if not os.path.exists(os.path.join(BUILD, "simd", "simd")):
    print("1..0 # SKIP simd not built")
    raise SystemExit(0)
HAVE_MIGRATED = os.path.exists(os.path.join(BUILD, "migrated", "migrated"))

t = Tap()
root = tmpdir("twtc")
token = "tankctl-test-token-0123456789abcdef"
token_file = os.path.join(root, "token")
write_token(token_file, token)
p1, p2 = base_ports(2)
common = {"security.token_file": token_file, "discovery.heartbeat_interval": "0.5",
          "discovery.heartbeat_timeout": "5", "discovery.evict_after": "3600",
          "migration.check_interval": "3600", "migration.request_timeout": "1",
          "sim.tick_rate": "10"}


class Server:
    def __init__(self, sid, port, hub=None):
        self.id = sid
        self.base_port = port
        self.root = os.path.join(root, sid)
        extra = dict(common)
        if hub:
            extra["discovery.hub_url"] = "http://127.0.0.1:%d" % hub
        names = ["discoveryd", "simd"] + (["migrated"] if HAVE_MIGRATED else [])
        self.d = {n: Daemon(n, self.root, sid, port, extra=extra) for n in names}
        self.conf = self.d["simd"].conf

    def start(self):
        for d in self.d.values():
            d.start()

    def stop(self):
        for d in reversed(list(self.d.values())):
            if d.alive():
                d.stop()

    @property
    def sim(self):
        return self.d["simd"]


s1 = Server("s1", p1)
s2 = Server("s2", p2, hub=p1)


def ctl(*args, server=s1, conf=True, token=True, timeout=60):
    """Run tankctl; returns (exit status, stdout, stderr)."""
    cmd = WRAPPER + [TANKCTL]
    if conf:
        cmd += ["-c", server.conf]
    if token:
        cmd += ["--set", "security.token_file=" + token_file]
    elif conf:
        cmd += ["--set", "security.token_file="]  # the test config names one since issue 9
    cmd += list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def ctl_json(*args, **kw):
    rc, out, err = ctl("--json", *args, **kw)
    try:
        return rc, json.loads(out), err
    except ValueError:
        return rc, None, out + err


def fish_ids(server, tank):
    return sorted(server.sim.fish_ids(tank))


def total_fish():
    n = 0
    for s in (s1, s2):
        for ts in s.sim.get("/api/tanks").json()["tanks"]:
            n += len(fish_ids(s, ts["tank"]["tank_id"]))
        n += s.sim.get("/api/outbox").json()["count"]
    return n


try:
    s1.start()
    s2.start()

    def both_known():
        for s in (s1, s2):
            known = {x["server_id"] for x in s.d["discoveryd"].get("/api/discovery/servers").json()["servers"]}
            if known != {"s1", "s2"}:
                return False
        return True
    t.ok(wait_until(both_known, 30, 0.1), "two servers that know each other")
    A = s1.sim.post("/api/tanks", {"name": "Reef", "initial_fish": 12, "max_fish": 50, "paused": True}).json()["tank"]["tank_id"]
    B = s2.sim.post("/api/tanks", {"name": "Lagoon", "initial_fish": 4, "max_fish": 50, "paused": True}).json()["tank"]["tank_id"]
    # Paused tanks have no births or deaths: the set of fish ids is fixed, audits exact.
    for s in (s1, s2):
        for ts in s.sim.get("/api/tanks").json()["tanks"]:
            s.sim.post("/api/tanks/%s/pause" % ts["tank"]["tank_id"])

    # ---- basics and usage ----
    rc, out, err = ctl("--version", conf=False, token=False)
    t.ok(rc == 0 and out.startswith("tankctl "), "--version", out + err)
    rc, out, err = ctl("--help", conf=False, token=False)
    t.ok(rc == 0 and "audit" in out and "--server" in out, "--help lists commands and options")
    rc, out, err = ctl("frobnicate")
    t.ok(rc == 2 and "unknown command" in err, "an unknown command is a usage error (2)", (rc, err))
    rc, out, err = ctl("tanks", "--limit", "5")
    t.ok(rc == 2 and "does not apply" in err, "an option of another command is refused", (rc, err))
    # Usage errors are found by tankctl itself (exit 2), before anything reaches migrated:
    # a probability out of range is not left to the daemon's 400 (exit 1), and an extra
    # argument (a typo, a word not quoted) is not silently dropped while the rest runs.
    rc, out, err = ctl("connect", "Reef", B, "--dest-server", "s2", "-p", "101", "--id", "too-likely")
    t.ok(rc == 2 and "--probability '101': expected 0 to 100" in err,
         "connect -p 101 is a usage error (2) naming the range", (rc, err))
    # (Without --dest-server: were the extra word dropped, B is unknown on s1 and nothing is made.)
    rc, out, err = ctl("connect", "Reef", B, "extra", "--id", "too-many")
    t.ok(rc == 2 and "connect: wrong number of arguments" in err,
         "a command given an extra argument is a usage error (2), not run without it", (rc, err))
    rc, out, err = ctl("tanks", "--bogus")
    t.ok(rc == 2 and err.startswith("tankctl: "), "an unknown option is a usage error, named by tankctl (not its path)",
         (rc, err))
    rc, out, err = ctl("-c", os.path.join(root, "missing.conf"), "tanks", conf=False)
    t.ok(rc == 2 and "missing.conf" in err, "a missing -c file is an error naming it", (rc, err))
    rc, out, err = ctl("--set", "sim.tick_rate=fast", "tanks")
    t.ok(rc == 2 and "tick_rate" in err, "a bad --set is an error naming the key", (rc, err))
    rc, out, err = ctl("--set", "sim.socket=" + os.path.join(root, "nothing.sock"), "tanks")
    t.ok(rc == 1 and "cannot reach simd" in err and "no socket at" in err and "port 80" not in err,
         "an unreachable daemon: exit 1 and a message naming the missing socket (not curl's port 80)", (rc, err))
    # Output that cannot be written is a failure a script sees.
    with open("/dev/full", "w") as full:
        p = subprocess.run(WRAPPER + [TANKCTL, "-c", s1.conf, "--set", "security.token_file=" + token_file,
                                      "tanks"], stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    t.ok(p.returncode == 1 and "cannot write the output" in p.stderr,
         "tanks > /dev/full: exit 1 and a message, not 0", (p.returncode, p.stderr))

    # ---- servers ----
    rc, out, err = ctl("servers")
    lines = out.splitlines()
    t.ok(rc == 0 and lines[0].split()[:3] == ["ID", "STATUS", "HOST"] and
         any(l.startswith("s1 *") and "online" in l for l in lines) and
         any(l.startswith("s2 ") and "%d/%d/%d" % (p2, p2 + 1, p2 + 2) in l for l in lines),
         "servers: a table with both servers, the local one marked, ports", out + err)
    rc, j, err = ctl_json("servers")
    t.ok(rc == 0 and j["count"] == 2 and {s["server_id"]: s["is_local"] for s in j["servers"]} == {"s1": True, "s2": False},
         "servers --json: discoveryd's list", j)

    # ---- tanks ----
    rc, out, err = ctl("tanks")
    header = out.splitlines()[0].split()
    reef = [l for l in out.splitlines() if "Reef" in l]
    t.ok(rc == 0 and header[:3] == ["ID", "NAME", "FISH"] and "PAUSED" in header and
         len(reef) == 1 and reef[0].split()[:3] == [A, "Reef", "12"], "tanks: a table with id, name, fish", out + err)
    widths = {len(l.split("NAME")[0]) for l in out.splitlines()[:1]} | {l.index("Reef") for l in reef}
    t.ok(len(widths) == 1, "tanks: columns are aligned", out)
    rc, j, err = ctl_json("tanks")
    t.ok(rc == 0 and j["count"] == 2 and A in [x["tank"]["tank_id"] for x in j["tanks"]], "tanks --json: simd's list", j)
    rc, out, err = ctl("tanks", server=s2)
    t.ok(rc == 0 and "Lagoon" in out and "Reef" not in out, "tanks with s2's configuration lists s2's tanks", out)
    rc, out, err = ctl("--server", "http://127.0.0.1:%d" % p2, "tanks")
    t.ok(rc == 0 and "Lagoon" in out and "Reef" not in out, "--server URL reaches a remote server's simd over TCP", out + err)
    # Over TCP without the token a private tank is not listed: tankctl says so rather
    # than let it look absent.
    G = s2.sim.post("/api/tanks", {"name": "Grotto", "initial_fish": 0, "is_public": False, "paused": True}).json()["tank"]["tank_id"]
    url2 = "http://127.0.0.1:%d" % p2
    rc, out, err = ctl("--server", url2, "tanks", token=False, conf=False)
    t.ok(rc == 0 and "Lagoon" in out and "Grotto" not in out and "public tanks only: no token" in out,
         "tanks over TCP without the token: public ones, and the footer says so", out + err)
    rc, out, err = ctl("--server", url2, "tank", "show", "Grotto", token=False, conf=False)
    t.ok(rc == 1 and "unknown tank 'Grotto'" in err and "only public tanks" in err,
         "a private tank asked for without the token: unknown, saying why it may be", (rc, err))
    rc, out, err = ctl("--server", url2, "tanks")
    t.ok(rc == 0 and "Grotto" in out and "public tanks only" not in out, "... with the token it is listed", out + err)
    t.ok(s2.sim.delete("/api/tanks/" + G).status == 200, "(the private tank goes again)")
    # A name of wide characters keeps the columns straight on a terminal.
    wide = s1.sim.post("/api/tanks", {"name": "\u9b5a\u306e\u6c34\u69fd Tank", "initial_fish": 0,
                                      "paused": True}).json()["tank"]["tank_id"]
    rc, out, err = ctl("tanks")

    def columns(line):
        return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)
    rows = out.splitlines()[:-1]
    t.ok(rc == 0 and len(rows) >= 3 and len({columns(line) for line in rows}) == 1,
         "tanks: a name in CJK characters (two columns each) keeps the table aligned", out)
    s1.sim.delete("/api/tanks/" + wide)
    # A name that is another tank's short id names two tanks, not silently the named one.
    twin = s1.sim.post("/api/tanks", {"name": A[:8], "initial_fish": 0, "paused": True}).json()["tank"]["tank_id"]
    rc, out, err = ctl("tank", "show", A[:8])
    t.ok(rc == 1 and "names 2 tanks" in err, "a tank named as another's short id: ambiguous, not the named one", (rc, err))
    t.ok(s1.sim.delete("/api/tanks/" + twin).status == 200, "(that tank goes again)")
    rc, out, err = ctl("tank", "show", "")
    t.ok(rc == 1 and "names no tank" in err, "an empty tank argument names no tank (it was a prefix of all)", (rc, err))
    rc, out, err = ctl("tanks", "--limit", "5")
    t.ok(rc == 2 and "--limit does not apply" in err, "an option a command does not take is named", (rc, err))

    # ---- tank show, pause, resume ----
    rc, out, err = ctl("tank", "show", A)
    t.ok(rc == 0 and ("tank          %s" % A) in out and "Reef" in out and "paused" in out, "tank show ID", out + err)
    rc, out2, err = ctl("tank", "show", A[:8])
    t.ok(rc == 0 and A in out2, "tank show accepts a unique id prefix", out2 + err)
    rc, out2, err = ctl("tank", "show", A.upper())
    t.ok(rc == 0 and A in out2, "and the id in capitals (UUIDs ignore case on input)", out2 + err)
    rc, out3, err = ctl("tank", "show", "Reef")
    t.ok(rc == 0 and A in out3, "tank show accepts a tank name", out3 + err)
    rc, j, err = ctl_json("tank", "show", A)
    t.ok(rc == 0 and j["tank"]["tank_id"] == A and j["stats"]["fish_count"] == 12, "tank show --json: the TankStatus", j)
    rc, out, err = ctl("tank", "show", "no-such-tank")
    t.ok(rc == 1 and "unknown tank 'no-such-tank'" in err and out == "", "tank show of an unknown tank: exit 1 and a message", (rc, out, err))
    rc, out, err = ctl("--json", "tank", "show", "no-such-tank")
    t.ok(rc == 1 and out == "" and "unknown tank" in err, "... also with --json (nothing on stdout)", (rc, out, err))
    rc, out, err = ctl("tank", "resume", "Reef")
    t.ok(rc == 0 and "running" in out and s1.sim.get("/api/tanks/" + A).json()["paused"] is False, "tank resume", out + err)
    rc, j, err = ctl_json("tank", "resume", A[:8])
    t.ok(rc == 0 and j["paused"] is False and j["tank"]["tank_id"] == A, "tank resume --json: the TankStatus", j)
    rc, out, err = ctl("tank", "pause", "Reef")
    t.ok(rc == 0 and "paused" in out and s1.sim.get("/api/tanks/" + A).json()["paused"] is True, "tank pause", out + err)
    # A wall with budget 0 lets no fish through (migrated's setting while the destination
    # cannot take any): shown closed, not "open to" it.
    W = s1.sim.post("/api/tanks", {"name": "Walls", "initial_fish": 0, "paused": True}).json()["tank"]["tank_id"]
    wall = {"destination_server_id": "elsewhere", "destination_tank_id": "t-far", "connection_id": "c-1"}
    r = s1.sim.req("PUT", "/api/tanks/%s/exits" % W, body={"left": dict(wall, budget=0), "right": dict(wall, budget=2)})
    rc, out, err = ctl("tank", "show", W)
    t.ok(r.status == 200 and rc == 0 and "closed to elsewhere/t-far for now" in out and
         "open to elsewhere/t-far (connection c-1) for 2 more fish" in out,
         "tank show: a wall at budget 0 is closed for now, one with a budget says how many more", (r, out, err))
    s1.sim.delete("/api/tanks/" + W)
    rc, out, err = ctl("tank", "frob", "Reef")
    t.ok(rc == 2, "tank with an unknown subcommand is a usage error", (rc, err))

    # ---- fish show ----
    F = fish_ids(s1, A)[0]
    rc, out, err = ctl("fish", "show", A, F)
    t.ok(rc == 0 and ("fish          %s" % F) in out and "genome" in out and A in out, "fish show TANK FISH", out + err)
    rc, j, err = ctl_json("fish", "show", A, F)
    full = s1.sim.get("/api/tanks/%s/fish/%s" % (A, F)).json()
    t.ok(rc == 0 and j == full, "fish show --json: the serialized fish", (j or {}).get("id"))
    rc, out, err = ctl("fish", "show", F)
    t.ok(rc == 0 and F in out and ("tank %s" % A) in out, "fish show FISH searches every local tank", out + err)
    rc, out, err = ctl("fish", "show", F[:10])
    t.ok(rc == 0 and F in out, "fish show accepts a unique fish id prefix", out + err)
    rc, out, err = ctl("fish", "show", F.upper())
    t.ok(rc == 0 and F in out, "and the fish id in capitals", out + err)
    rc, out, err = ctl("fish", "show", F[:10].upper())
    t.ok(rc == 0 and F in out, "and its prefix in capitals", out + err)
    rc, out, err = ctl("fish", "show", str(uuid.uuid4()))
    t.ok(rc == 1 and "no fish" in err, "an unknown fish: exit 1 and a message", (rc, err))
    rc, out, err = ctl("fish", "show", "no-such-tank", F)
    t.ok(rc == 1 and "unknown tank" in err, "fish show in an unknown tank: exit 1", (rc, err))

    # ---- audit, clean ----
    n = total_fish()
    rc, out, err = ctl("audit")
    t.ok(rc == 0 and ("%d fish, 0 lost in migration, 0 duplicated; lost otherwise: not checked (no baseline)" % n) in out,
         "audit on a clean network: exit 0, %d fish, 0 duplicated" % n, out + err)
    t.ok(any(l.startswith("s1 *") for l in out.splitlines()) and any(l.startswith("s2 ") for l in out.splitlines())
         and any(l.startswith("total") for l in out.splitlines()), "audit reports totals per server", out)
    t.ok("migration balance: 0 departures = 0 arrivals + 0 in flight" in out, "audit reconciles the migration counters", out)
    rc, j, err = ctl_json("audit")
    t.ok(rc == 0 and j["fish"] == n and j["duplicated"] == [] and j["complete"] and j["all_paused"] and
         j["exit_status"] == 0 and sum(s["fish_in_tanks"] for s in j["servers"]) == n,
         "audit --json: the same figures", j)
    rc, out, err = ctl("--server", "http://127.0.0.1:%d" % p2, "audit")
    t.ok(rc == 0 and ("%d fish, " % n) in out and "0 duplicated" in out, "audit through --server (all over TCP)", out + err)
    # A second entry for s2's simd (a renamed server's old entry, not yet evicted): its
    # tanks were read under both names, and every fish was reported duplicated.
    s1.d["discoveryd"].post("/api/discovery/register", {"server_id": "s2-old", "host": "127.0.0.1", "port": p2 + 1})
    rc, out, err = ctl("audit")
    t.ok(rc == 0 and ("%d fish, 0 lost in migration, 0 duplicated" % n) in out
         and "s2-old: its address reaches the simd of s2, read under that entry" in out,
         "two entries reaching one simd: read once, said so, exit 0", out + err)
    rc, j, err = ctl_json("audit")
    t.ok(rc == 0 and [x["same_simd_as"] for x in j["servers"] if x["server_id"] == "s2-old"] == ["s2"]
         and j["duplicated"] == [], "audit --json: same_simd_as names it", j)
    s1.d["discoveryd"].delete("/api/discovery/unregister/s2-old")
    t.ok(wait_until(lambda: all(x["server_id"] != "s2-old" for x in
                                s2.d["discoveryd"].get("/api/discovery/servers").json()["servers"]), 30),
         "and once the entry is gone, s2 (which learned it from the hub) forgets it too")
    # Without the token private tanks are not listed over TCP: the audit cannot be
    # complete, whatever it found (a probe: it said complete, exit 0, one tank short).
    rc, out, err = ctl("--server", "http://127.0.0.1:%d" % p2, "audit", token=False)
    t.ok(rc == 2 and "audit incomplete: without the cluster token only public tanks are listed on: s2 s1" in out
         and "migration balance: not checked" in out, "audit over TCP without the token: incomplete, exit 2, saying why",
         (rc, out, err))
    rc, j, err = ctl_json("--server", "http://127.0.0.1:%d" % p2, "audit", token=False)
    t.ok(j is not None and j.get("complete") is False and all(x["public_only"] for x in j["servers"]),
         "audit --json without the token: complete false, each server public_only", j)
    base = os.path.join(root, "baseline.json")
    rc, out, err = ctl("audit", "--save", base)
    t.ok(rc == 0 and os.path.exists(base) and json.load(open(base))["count"] == n, "audit --save writes a baseline", out + err)
    rc, out, err = ctl("audit", "--baseline", base)
    t.ok(rc == 0 and ("%d fish, 0 lost, 0 duplicated" % n) in out, "audit --baseline: 0 lost", out + err)
    saved = json.load(open(base))
    nplants = saved["plants"]
    t.ok(("baseline: %d fish and %d plants;" % (n, nplants)) in out,
         "the baseline's fish and plants are counted apart (plants were counted as fish)", (saved.keys(), out))
    rc, out, err = ctl("audit", "--expect", str(n))
    t.ok(rc == 0 and ("%d fish, 0 lost, 0 duplicated" % n) in out, "audit --expect N: 0 lost", out + err)
    rc, out, err = ctl("audit", "--expect", str(n + 1))
    t.ok(rc == 4 and ("%d fish, 1 lost, 0 duplicated" % n) in out, "audit --expect N+1 with every tank paused: 1 lost, exit 4", (rc, out))
    bad = os.path.join(root, "bad.json")
    with open(bad, "w") as f:
        f.write('{"x": 1}')
    rc, out, err = ctl("audit", "--baseline", bad)
    t.ok(rc == 1 and "not a file written by" in err, "a foreign baseline file is refused", (rc, err))

    # ---- connections and transfers (migrated) ----
    if HAVE_MIGRATED:
        rc, out, err = ctl("connect", "Reef", B, "--dest-server", "s2", "--probability", "100",
                           "--direction", "right", "--id", "reef-lagoon")
        t.ok(rc == 0 and "connection reef-lagoon created" in out, "connect: created", out + err)
        rc, out, err = ctl("connect", "Reef", B, "--dest-server", "s2", "-p", "100", "--direction", "right",
                           "--id", "reef-lagoon")
        t.ok(rc == 0 and "connection reef-lagoon updated" in out, "connect again: updated", out + err)
        rc, j, err = ctl_json("connect", "Reef", B, "--dest-server", "s2", "-p", "100", "--id", "reef-lagoon")
        t.ok(rc == 0 and j["id"] == "reef-lagoon" and j["sourceId"] == A and j["destinationServerId"] == "s2",
             "connect --json: the Connection", j)
        # A remote tank is looked up on its server like a local one: by name or by the
        # short id the tables print (a prefix was stored as the tank id, broken at once).
        rc, j, err = ctl_json("connect", "Reef", B[:8], "--dest-server", "s2", "-p", "0", "--direction", "left", "--id", "by-prefix")
        t.ok(rc == 0 and j["destinationId"] == B, "connect --dest-server with a short id: the full id stored", (rc, j, err))
        rc, j, err = ctl_json("connect", "Reef", "Lagoon", "--dest-server", "s2", "-p", "0", "--direction", "left", "--id", "by-prefix")
        t.ok(rc == 0 and j["destinationId"] == B, "... and with the remote tank's name", (rc, j, err))
        ctl("disconnect", "by-prefix")
        rc, out, err = ctl("connect", "Reef", "Atlantis", "--dest-server", "s2", "-p", "0")
        t.ok(rc == 1 and "unknown tank 'Atlantis'" in err, "a remote tank its server does not have: exit 1", (rc, err))
        rc, out, err = ctl("connect", "Reef", B, "--direction", "up")
        t.ok(rc == 2 and "left or right" in err, "connect --direction up is a usage error", (rc, err))
        rc, out, err = ctl("connect", "Reef", "no-such-tank")
        t.ok(rc == 1 and "unknown tank" in err, "connect to an unknown local tank: exit 1", (rc, err))
        rc, out, err = ctl("connections")
        t.ok(rc == 0 and any(l.startswith("reef-lagoon ") and "100%" in l and "right" in l for l in out.splitlines()),
             "connections: a table", out + err)
        rc, j, err = ctl_json("connections", "--tank", "Reef")
        t.ok(rc == 0 and j["count"] == 1 and j["connections"][0]["destinationId"] == B and
             j["connections"][0]["probability"] == 100, "connections --json --tank", j)
        rc, j, err = ctl_json("connections", "--tank", B)
        t.ok(rc == 0 and j["count"] == 1 and j["connections"][0]["id"] == "reef-lagoon",
             "connections --tank with a remote tank's whole id (it was 'unknown tank')", (rc, j, err))
        rc, out, err = ctl("tank", "show", A)
        t.ok("reef-lagoon" in out and "right wall" in out, "tank show lists the tank's connections and exits", out)
        # A mutation over TCP needs the token.
        rc, out, err = ctl("--server", "http://127.0.0.1:%d" % p2, "connect", "Lagoon", A,
                           "--dest-server", "s1", "--id", "lagoon-reef", "-p", "0", token=False, conf=False)
        t.ok(rc == 1 and "HTTP 401" in err and "needs the cluster token" in err,
             "a remote mutation without the token: 401, exit 1", (rc, err))
        wrong = os.path.join(root, "wrong-token")
        write_token(wrong, "another-clusters-token-0123456789")
        rc, out, err = ctl("--server", "http://127.0.0.1:%d" % p2, "connect", "Lagoon", A, "--dest-server", "s1",
                           "--id", "lagoon-reef", "-p", "0", "--set", "security.token_file=" + wrong, token=False, conf=False)
        t.ok(rc == 1 and "HTTP 401" in err and "the one sent is not this server's" in err and "token was refused" in err,
             "a wrong token: 401 saying the token sent is not this server's, not that one is missing", (rc, err))
        rc, out, err = ctl("--server", "http://127.0.0.1:%d" % p2, "connect", "Lagoon", A,
                           "--dest-server", "s1", "--id", "lagoon-reef", "-p", "0")
        t.ok(rc == 0 and "lagoon-reef created" in out, "... and with the cluster token: created on s2", out + err)
        rc, out, err = ctl("--server", "http://127.0.0.1:%d" % p2, "disconnect", "lagoon-reef")
        t.ok(rc == 0 and "deleted" in out, "disconnect on a remote server", out + err)

        before = set(fish_ids(s1, A))
        moved = []
        for _ in range(3):
            rc, out, err = ctl("migrate")
            t.ok(rc == 0 and "1 reserved" in out, "migrate runs one scheduler pass", out + err)
            moved += [l.split()[1] for l in out.splitlines() if l.strip().startswith("transfer ")]

        def delivered():
            _, j, _ = ctl_json("transfers", "--tank", A)
            return j and sum(1 for x in j["transfers"] if x["state"] == "committed") >= 3
        t.ok(wait_until(delivered, 20, 0.2), "three fish delivered to s2")
        rc, out, err = ctl("transfers")
        rows = [l for l in out.splitlines() if "committed" in l]
        t.ok(rc == 0 and out.splitlines()[0].split()[:3] == ["CREATED", "(UTC)", "TRANSFER"] and len(rows) == 3 and
             all(("s1/%s" % A[:8]) in l and ("s2/%s" % B[:8]) in l for l in rows), "transfers: a table", out + err)
        rc, j, err = ctl_json("transfers", "--limit", "2")
        t.ok(rc == 0 and j["count"] == 2 and {x["transfer_id"] for x in j["transfers"]} <= set(moved),
             "transfers --json --limit 2", j)
        rc, j, err = ctl_json("transfers", "--tank", "Reef", "--success-only")
        t.ok(rc == 0 and j["count"] == 3 and all(x["success"] for x in j["transfers"]), "transfers --tank --success-only", j)
        rc, j, err = ctl_json("transfer", "show", moved[0])
        t.ok(rc == 0 and j["transfer_id"] == moved[0] and j["state"] == "committed", "transfer show --json", j)
        rc, out, err = ctl("transfer", "show", moved[0])
        t.ok(rc == 0 and moved[0] in out and "committed" in out, "transfer show ID", out + err)
        rc, out, err = ctl("transfer", "show", str(uuid.uuid4()))
        t.ok(rc == 1 and "404" in err, "transfer show of an unknown id: exit 1", (rc, err))
        rc, out, err = ctl("transfer", "show", moved[0][:8])
        lines = out.splitlines()
        t.ok(rc == 0 and moved[0] in out and len({l.index(l.split()[1]) for l in lines if len(l.split()) > 1}) == 1,
             "transfer show by the short id the tables print, its values in one column", out + err)
        rc, out, err = ctl("transfer", "show", "zz")
        t.ok(rc == 2 and "not a transfer id" in err, "transfer show of a malformed id: a usage error (exit 2)", (rc, err))
        after = set(fish_ids(s1, A))
        arrived = set(fish_ids(s2, B)) & before
        t.ok(len(before - after) == 3 and arrived == before - after, "the migrated fish left Reef and are in Lagoon")
        rc, out, err = ctl("audit")
        t.ok(rc == 0 and ("%d fish, " % n) in out and "0 duplicated" in out and
             "migration balance: 3 departures = 3 arrivals + 0 in flight" in out,
             "audit after migrations: same total, balance reconciled", out + err)
        rc, out, err = ctl("audit", "--baseline", base)
        t.ok(rc == 0 and "0 lost" in out, "nothing lost relative to the baseline", out)
        rc, j, err = ctl_json("migrate")
        t.ok(rc == 0 and j["connections"] == 1 and j["reserved"] == 1 and len(j["transfer_ids"]) == 1,
             "migrate --json: the pass summary", j)
        t.ok(wait_until(lambda: s1.sim.get("/api/outbox").json()["count"] == 0, 20, 0.1), "... delivered")
        rc, out, err = ctl("disconnect", "reef-lagoon")
        t.ok(rc == 0 and "connection reef-lagoon deleted" in out, "disconnect", out + err)
        rc, out, err = ctl("connect", "Reef", B, "--dest-server", "s2", "--id", "tmp")
        rc, j, err = ctl_json("disconnect", "tmp")
        t.ok(rc == 0 and j.get("success") is True, "disconnect --json", j)
        rc, out, err = ctl("disconnect", "reef-lagoon")
        t.ok(rc == 1 and "404" in err, "disconnect of an unknown connection: exit 1", (rc, err))
        rc, out, err = ctl("--set", "migration.socket=" + os.path.join(root, "none.sock"), "connections")
        t.ok(rc == 1 and "cannot reach migrated" in err, "migrated unreachable: exit 1", (rc, err))
        # A pass that cannot run (simd not answering) is migrated's 200 with an error:
        # tankctl printed "0 connection(s)" and exited 0.
        s1.sim.signal(signal.SIGSTOP)
        rc, out, err = ctl("migrate")
        s1.sim.signal(signal.SIGCONT)
        t.ok(rc == 1 and "the pass did not run: simd is not answering" in err,
             "migrate when simd does not answer: says so, exit 1", (rc, out, err))

    # ---- a fish in flight ----
    # A reservation for a server nobody knows stays in the outbox: migrated retries it
    # and never gives up, so the fish is "in flight" as long as we like.
    G = fish_ids(s1, A)[0]
    r = s1.sim.post("/api/outbox/reserve", {"source_tank_id": A, "destination_server_id": "ghost",
                                            "destination_tank_id": "nowhere", "fish_id": G})
    t.ok(r.status == 200, "a fish reserved for an unknown server", r)
    xfer = r.json()["transfer_id"]
    rc, out, err = ctl("audit")
    t.ok(rc == 0 and "in flight (1):" in out and xfer in out and G in out and "ghost/nowhere" in out and
         ("%d fish, " % n) in out and "0 duplicated" in out, "audit lists the fish in flight, counted once", out + err)
    rc, j, err = ctl_json("audit")
    t.ok(rc == 0 and [x["transfer_id"] for x in j["in_flight"]] == [xfer] and j["in_flight"][0]["source_server_id"] == "s1"
         and j["migration_balance"]["difference"] == 0, "audit --json: in_flight with the source server", j)
    rc, out, err = ctl("fish", "show", G)
    t.ok(rc == 0 and "in flight: transfer %s" % xfer in out and "genome" in out, "fish show finds a fish in flight", out + err)
    rc, out, err = ctl("fish", "show", G[:8])
    t.ok(rc == 0 and "in flight: transfer %s" % xfer in out, "... also by the short id the tables print", out + err)
    plants = [e["id"] for e in s1.sim.get("/api/tanks/%s/state" % A).json()["entities"] if e["kind"] == "plant"]
    r = s1.sim.post("/api/outbox/reserve", {"source_tank_id": A, "destination_server_id": "ghost", "kind": "plant",
                                            "destination_tank_id": "nowhere", "fish_id": plants[0] if plants else ""})
    t.ok(r.status == 200, "a plant reserved for an unknown server", r)
    if r.status == 200:
        rc, out, err = ctl("fish", "show", plants[0])
        t.ok(rc == 0 and out.startswith("plant") and "life stage" not in out and "in flight: transfer" in out,
             "fish show of a plant in flight shows a plant, not a broken fish", out + err)
        s1.sim.post("/api/outbox/%s/abort" % r.json()["transfer_id"])
    if HAVE_MIGRATED:
        # A connection toward that server, known now but at a port nobody answers: while
        # the transfer fails to reach it, the connection reads unreachable (wall closed).
        s1.d["discoveryd"].post("/api/discovery/register", server_info("ghost", free_port()))
        rc, out, err = ctl("connect", "Reef", "nowhere", "--dest-server", "ghost", "-p", "0",
                           "--direction", "left", "--id", "reef-ghost")
        t.ok(rc == 0 and "cannot look up tank 'nowhere' on ghost" in err and "taken as its id" in err,
             "a connection to the server that does not answer: made, warning that the tank was not looked up",
             out + err)
        t.ok(wait_until(lambda: "unreachable: server ghost cannot take fish" in ctl("connections")[1], 20, 0.3),
             "connections: it reads unreachable", ctl("connections")[1])
        ctl("disconnect", "reef-ghost")
        s1.d["discoveryd"].delete("/api/discovery/unregister/ghost")  # the audits below ask every server
    r = s1.sim.post("/api/outbox/%s/abort" % xfer)
    t.ok(r.status == 200 or (r.status == 404), "the reservation is aborted (the fish goes home)", r)

    # ---- an injected fish: an arrival without a departure ----
    # A copy of a fish under a fresh id, delivered into s2: no duplicate, but the
    # migration balance is off by one, which the exit status says (5).
    fresh = s1.sim.get("/api/tanks/%s/fish/%s" % (A, fish_ids(s1, A)[2])).json()
    fresh["id"] = str(uuid.uuid4())
    body = {"transfer_id": str(uuid.uuid4()), "destination_tank_id": B, "source_server_id": "s1",
            "source_tank_id": A, "entity_data": fresh}
    r = s2.sim.post("/api/remote-transfer", body, tcp=True, token=token)
    t.ok(r.status == 200, "a fish under a fresh id injected into s2", r)
    rc, out, err = ctl("audit")
    t.ok(rc == 5 and "off by -1" in out and "0 duplicated" in out,
         "audit: the migration balance is off by -1: exit 5", (rc, out, err))
    # Take it out again the way it came: a reservation committed without a delivery.
    r = s2.sim.post("/api/outbox/reserve", {"source_tank_id": B, "destination_server_id": "ghost",
                                            "destination_tank_id": "nowhere", "fish_id": fresh["id"]})
    r = s2.sim.post("/api/outbox/%s/commit" % r.json()["transfer_id"])
    rc, out, err = ctl("audit")
    t.ok(rc == 0 and "0 duplicated" in out, "with the books balanced again, exit 0", (rc, out, err))

    # ---- an artificially duplicated fish ----
    D = fish_ids(s1, A)[1]
    body = {"transfer_id": str(uuid.uuid4()), "destination_tank_id": B, "source_server_id": "s1",
            "source_tank_id": A, "entity_data": s1.sim.get("/api/tanks/%s/fish/%s" % (A, D)).json()}
    r = s2.sim.post("/api/remote-transfer", body, tcp=True, token=token)
    t.ok(r.status == 200, "the same fish delivered into s2 under a new transfer id", r)
    rc, out, err = ctl("audit")
    t.ok(rc == 3 and "DUPLICATED (1 fish" in out and D in out and ("%d fish, 1 duplicated" % n) in out,
         "audit finds the duplicate: exit 3, the fish named", (rc, out, err))
    dl = [l for l in out.splitlines() if D in l]
    t.ok(dl and ("s1 tank %s" % A) in dl[0] and ("s2 tank %s" % B) in dl[0], "... with both places", dl)
    rc, j, err = ctl_json("audit")
    t.ok(rc == 3 and [d["fish_id"] for d in j["duplicated"]] == [D] and len(j["duplicated"][0]["places"]) == 2 and
         j["exit_status"] == 3, "audit --json: duplicated names the fish and its places", j)
    t.ok(j["migration_balance"]["difference"] == -1, "the balance shows one arrival without a departure", j["migration_balance"])

    # ---- /metrics: every daemon's is valid exposition text, with tanks and connections ----
    for srv in (s1, s2):
        for name, d in srv.d.items():
            body = d.get("/metrics", tcp=True, token=token).body
            tanks = len(d.get("/api/tanks").json()["tanks"]) if name == "simd" else 0
            t.ok(metrics_problems(body) == [], "%s %s /metrics is valid exposition text%s" %
                 (srv.id, name, " (%d tanks)" % tanks if name == "simd" else ""), metrics_problems(body))

    # ---- a server that does not answer ----
    # Remove the duplicate (delete Lagoon's copy by deleting the tank) first.
    if HAVE_MIGRATED:
        ctl("disconnect", "reef-lagoon")
    r = s2.sim.delete("/api/tanks/" + B)
    t.ok(r.status == 200, "the tank holding the copy is deleted", r)
    s2.sim.signal(signal.SIGSTOP)
    try:
        rc, out, err = ctl("-t", "1", "audit")
    finally:
        s2.sim.signal(signal.SIGCONT)
    t.ok(rc == 2 and "audit incomplete: 1 server(s) could not be read: s2" in out and "NO ANSWER" in out,
         "a server that does not answer: exit 2, named", (rc, out, err))
    rc, out, err = ctl("audit")
    # No duplicate any more; but Lagoon took its migration counters with it, so the
    # balance is off for good, and exit 5 says so (tankctl(1)).
    t.ok(rc == 5 and "0 duplicated" in out and "off by +" in out,
         "once it answers again: no duplicate, the balance off since Lagoon's deletion (exit 5)",
         (rc, out, err))
except Exception:
    import traceback
    t.ok(False, "no exception", traceback.format_exc())
    for s in (s1, s2):
        for name, d in s.d.items():
            t.diag("%s %s:\n%s" % (s.id, name, d.log_tail(15)))
finally:
    s2.stop()
    s1.stop()
    shutil.rmtree(root, ignore_errors=True)
t.done()
