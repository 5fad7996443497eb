#!/usr/bin/env python3
"""The cluster token and the listeners' permissions, on every daemon (issue 9 item 8,
issue 18 item 3). Every TCP mutation of discoveryd, simd and migrated is tried with no
token, an empty one, a wrong one, prefixes of the right one and the right one
repeated: each is a JSON 401 and changes nothing. The right token under another case
of "Bearer" passes. Without a token TCP is read-only (403) unless insecure = yes; a
token file readable by others stops the daemon with the fix in the message; a body
that is not application/json is a 415 on both listeners; private tanks and /metrics
are hidden from TCP clients without the token; and a client outside the socket's group
cannot connect to any Unix socket."""
import json
import os
import signal
import stat
import subprocess
import uuid

from twlib import Daemon, Tap, base_ports, finish, jerr, tmpdir, wait_until, write_token

t = Tap()
root = tmpdir("twsec")
os.chmod(root, 0o755)  # the other-uid client must reach the sockets' directory
port, port2 = base_ports(2)
token = "sec-token-0123456789abcdefXYZ"
token_file = write_token(os.path.join(root, "token"), token)
common = {"security.token_file": token_file, "sim.snapshot_interval": "1",
          "discovery.heartbeat_interval": "0.5", "discovery.heartbeat_timeout": "5"}
names = ("discoveryd", "simd", "migrated")
d = {n: Daemon(n, root, "sec1", port, extra=dict(common)) for n in names}


def info(sid):
    return {"server_id": sid, "hostname": sid, "host": "127.0.0.1", "port": 9001,
            "discovery_port": 9000, "migration_port": 9002, "version": "1", "platform": "t"}


def state():
    """Everything a mutation could change, read over the Unix sockets."""
    tanks = d["simd"].get("/api/tanks").json()["tanks"]
    return (json.dumps(sorted((x["tank"]["tank_id"], x.get("paused"), x["stats"]["fish_count"]
                               if x.get("paused") else None) for x in tanks)),
            json.dumps(sorted(s["server_id"] for s in
                              d["discoveryd"].get("/api/discovery/servers").json()["servers"])),
            json.dumps(sorted(c["id"] for c in
                              d["migrated"].get("/api/connections").json()["connections"])))


BAD = [
    ("no Authorization header", None),
    ("an empty Authorization header", ""),
    ("an empty token", "Bearer "),
    ("a wrong token of the same length", "Bearer " + "x" * len(token)),
    ("a prefix of 3 characters", "Bearer " + token[:3]),
    ("the token less its last character", "Bearer " + token[:-1]),
    ("the token repeated", "Bearer " + token + token),
    ("the token with a trailing character", "Bearer " + token + "A"),
    ("another scheme", "Basic " + token),
    ("the token without a scheme", token),
]
GOOD = [("lower-case bearer", "bearer " + token), ("upper-case BEARER", "BEARER " + token),
        ("mixed-case bEaReR", "bEaReR " + token)]

try:
    for n in names:
        d[n].start()
    wait_until(lambda: d["simd"].get("/api/tanks").status == 200, 20)
    a = d["simd"].post("/api/tanks", {"name": "A", "initial_fish": 4, "paused": True}).json()["tank"]["tank_id"]
    b = d["simd"].post("/api/tanks", {"name": "B", "initial_fish": 0, "paused": True,
                                      "is_public": False}).json()["tank"]["tank_id"]
    r = d["migrated"].post("/api/connections", {"id": "keep", "sourceId": a, "destinationId": b})
    t.ok(r.status in (200, 201), "a connection to protect", r)
    d["discoveryd"].post("/api/discovery/register", info("peer1"))
    fish = d["simd"].get("/api/tanks/%s/state" % a).json()["entities"]
    fish = [e for e in fish if e["kind"] == "fish"][0]
    entity = dict(fish, id=str(uuid.uuid4()))
    transfer = {"transfer_id": str(uuid.uuid4()), "destination_tank_id": b,
                "source_server_id": "sec1", "source_tank_id": a, "entity_data": entity}

    mutations = [
        ("discoveryd", "POST", "/api/discovery/register", info("intruder")),
        ("discoveryd", "POST", "/api/discovery/heartbeat/peer1", None),
        ("discoveryd", "DELETE", "/api/discovery/unregister/peer1", None),
        ("simd", "POST", "/api/tanks", {"name": "Intruder", "initial_fish": 1}),
        ("simd", "DELETE", "/api/tanks/%s" % a, None),
        ("simd", "POST", "/api/tanks/%s/resume" % a, None),
        ("simd", "POST", "/api/tanks/%s/pause" % a, None),
        ("simd", "POST", "/api/remote-transfer", transfer),
        ("simd", "DELETE", "/api/inbox/%s" % uuid.uuid4(), None),
        ("simd", "POST", "/api/tanks/%s/poker/series" % a, {"hands": 10, "top": 1, "seed": 1}),
        ("simd", "POST", "/api/tanks/%s/poker/games" % a, {}),
        ("simd", "POST", "/api/tanks/%s/poker/games/%s/action" % (a, uuid.uuid4()), {"action": "fold"}),
        ("simd", "DELETE", "/api/tanks/%s/poker/games/%s" % (a, uuid.uuid4()), None),
        ("migrated", "POST", "/api/connections", {"id": "intr", "sourceId": b, "destinationId": a}),
        ("migrated", "DELETE", "/api/connections/keep", None),
        ("migrated", "POST", "/api/migrations/run", None),
    ]
    before = state()
    n_bad = 0
    for daemon, method, path, body in mutations:
        for what, auth in BAD:
            hdrs = {} if auth is None else {"Authorization": auth}
            r = d[daemon].req(method, path, tcp=True, body=body, headers=hdrs)
            n_bad += 1
            if not t.ok(jerr(r, 401, "unauthorized"),
                        "%s %s %s with %s: JSON 401" % (daemon, method, path, what), r):
                break
    t.eq(state(), before, "%d refused mutations changed nothing" % n_bad)
    # The 401 says which fix applies: a token to add, or the one sent to replace.
    r0 = d["simd"].req("POST", "/api/tanks/%s/pause" % a, tcp=True, body=None)
    r1 = d["simd"].req("POST", "/api/tanks/%s/pause" % a, tcp=True, body=None,
                       headers={"Authorization": "Bearer " + "x" * len(token)})
    t.ok(r0.headers.get("WWW-Authenticate") == "Bearer" and "needs the cluster token" in r0.body and
         r1.headers.get("WWW-Authenticate") == 'Bearer error="invalid_token"' and "not this server's" in r1.body,
         "a 401 without a token asks for one; with a wrong one it says the one sent is not this server's",
         (r0.headers, r0.body, r1.headers, r1.body))

    # The right token in any case of "Bearer" is accepted (the request runs: any
    # answer but 401/403). Heartbeat and run change little; each daemon is tried.
    for daemon, method, path, body in [m for m in mutations if m[2] in
                                       ("/api/discovery/heartbeat/peer1", "/api/migrations/run")] + \
            [("simd", "POST", "/api/tanks/%s/resume" % a, None)]:
        for what, auth in GOOD:
            r = d[daemon].req(method, path, tcp=True, body=body, headers={"Authorization": auth})
            t.ok(r.status not in (401, 403) and r.status < 500,
                 "%s %s %s with %s passes" % (daemon, method, path, what), r)

    # Reads: private tanks and /metrics need the token over TCP; the socket sees all.
    r = d["simd"].get("/api/tanks", tcp=True)
    t.ok(r.status == 200 and b not in r.body and a in r.body, "TCP without the token: no private tank", r)
    r = d["simd"].get("/api/tanks?include_private=true", tcp=True, token=token)
    t.ok(r.status == 200 and b in r.body, "with the token the private tank is listed", r)
    # Nor is anything of it read over TCP without the token, whoever knows its id: the
    # tank, its state, a fish or plant, the stream, history, events, lineage, poker and exits.
    fish = "00000000-0000-4000-8000-000000000000"
    reads = ["/api/tanks/%s" + x for x in ("", "/state", "/snapshot", "/fish/" + fish, "/plants/" + fish,
                                           "/history", "/events", "/lineage", "/poker", "/poker/games/" + fish,
                                           "/poker/strategies", "/exits")]
    reads.append("/api/lineage?tank_id=%s")
    for path in reads + ["/api/tanks/%s/stream"]:
        r = d["simd"].get(path % b, tcp=True, timeout=5)
        t.ok(jerr(r, 401, "unauthorized"), "GET %s of a private tank over TCP without the token: 401" % (path % "B"), r)
    for path in reads:
        for how, kw in (("with the token", {"tcp": True, "token": token}), ("over the socket", {})):
            r = d["simd"].get(path % b, timeout=5, **kw)
            t.ok(r.status != 401 and r.status < 500, "GET %s of a private tank %s: not refused (%d)"
                 % (path % "B", how, r.status), r)
        r = d["simd"].get(path % a, tcp=True, timeout=5)
        t.ok(r.status != 401 and r.status < 500, "GET %s of a public tank over TCP without the token: %d"
             % (path % "A", r.status), r)
    # Nor does the outbox tell of the fish leaving a private tank (migrated is stopped
    # meanwhile, so that the transfers stay in the outbox while they are looked at).
    c = d["simd"].post("/api/tanks", {"name": "C", "initial_fish": 1, "paused": True,
                                      "is_public": False}).json()["tank"]["tank_id"]
    d["migrated"].signal(signal.SIGSTOP)
    out = [d["simd"].post("/api/outbox/reserve", {"source_tank_id": src, "destination_server_id": "elsewhere",
                                                   "destination_tank_id": a}).json().get("transfer_id")
           for src in (a, c)]
    r = d["simd"].get("/api/outbox", tcp=True)
    shown = [x["transfer_id"] for x in r.json()["transfers"]] if r.status == 200 else None
    t.ok(shown == [out[0]] and r.json()["count"] == 1 and c not in r.body,
         "GET /api/outbox over TCP without the token: the public tank's transfer only", r)
    for how, kw in (("with the token", {"tcp": True, "token": token}), ("over the socket", {})):
        r = d["simd"].get("/api/outbox", **kw)
        t.ok(r.status == 200 and sorted(x["transfer_id"] for x in r.json()["transfers"]) == sorted(out)
             and r.json()["count"] == 2, "GET /api/outbox %s: both" % how, r)
    for tr in out:
        d["simd"].post("/api/outbox/%s/abort" % tr, {})
    d["migrated"].signal(signal.SIGCONT)

    # migrated's reads of a private tank, on its own TCP listener and through simd's door
    # (which relays over the Unix socket, trusted there): its connections, transfers and
    # stats are not shown without the token (an audit read them both ways).
    p = d["simd"].post("/api/tanks", {"name": "P", "initial_fish": 3, "paused": True,
                                      "is_public": False}).json()["tank"]["tank_id"]
    r = d["migrated"].post("/api/connections", {"id": "from-p", "sourceId": p, "destinationId": a,
                                                "probability": 100, "direction": "right"})
    t.ok(r.status in (200, 201), "a connection from a private tank", r)
    ran = d["migrated"].post("/api/migrations/run").json()
    xs = d["migrated"].get("/api/transfers?tank_id=%s" % p).json()["transfers"]
    xid = xs[0]["transfer_id"] if xs else "none"
    t.ok(xs, "a transfer from it is recorded", ran)
    t.ok(wait_until(lambda: d["migrated"].get("/api/tanks/%s/transfer-stats" % a, tcp=True).status == 200, 10),
         "a public tank's transfer stats need no token")
    for who in ("migrated", "simd"):
        for path in ("/api/connections", "/api/transfers", "/api/migrations"):
            r = d[who].get(path, tcp=True)
            t.ok(r.status == 200 and p not in r.body and xid not in r.body,
                 "%s GET %s over TCP without the token leaves the private tank out" % (who, path), r)
            if path != "/api/migrations":
                r = d[who].get(path, tcp=True, token=token)
                t.ok(r.status == 200 and p in r.body, "%s GET %s with the token shows it" % (who, path), r)
        for path in ("/api/tanks/%s/transfer-stats" % p, "/api/transfers/" + xid, "/api/connections/from-p"):
            r = d[who].get(path, tcp=True)
            t.ok(jerr(r, 401, "unauthorized"), "%s GET %s over TCP without the token: 401"
                 % (who, path.replace(p, "P")), r)
            r = d[who].get(path, tcp=True, token=token)
            t.eq(r.status, 200, "%s GET %s with the token: 200" % (who, path.replace(p, "P")))
    d["migrated"].delete("/api/connections/from-p")
    # A public tank is named in public-tanks.json before its creation is answered: its
    # connection, made at once, is shown without the token (it was a 401 for up to 2 s).
    q = d["simd"].post("/api/tanks", {"name": "Q", "initial_fish": 1}).json()["tank"]["tank_id"]
    r = d["migrated"].post("/api/connections", {"id": "from-q", "sourceId": q, "destinationId": a,
                                                "probability": 0, "direction": "left"})
    r = d["migrated"].get("/api/connections/from-q", tcp=True)
    t.eq(r.status, 200, "a connection of a public tank made right after the tank is shown without the token")
    d["migrated"].delete("/api/connections/from-q")
    # An arrival names its tank: reading one in a private tank needs the token.
    fid = [e for e in d["simd"].get("/api/tanks/%s/state" % a).json()["entities"] if e["kind"] == "fish"][0]["id"]
    fish = d["simd"].get("/api/tanks/%s/fish/%s" % (a, fid)).json()
    came = {}
    for dest in (a, p):
        tid = str(uuid.uuid4())
        r = d["simd"].post("/api/remote-transfer", {"transfer_id": tid, "destination_tank_id": dest,
                                                    "source_server_id": d["simd"].server_id, "source_tank_id": a,
                                                    "entity_data": dict(fish, id=str(uuid.uuid4()))})
        came[dest] = tid if r.status == 200 else r
    t.ok(all(isinstance(x, str) for x in came.values()), "a fish arrives in the public tank, one in the private", came)
    t.eq(d["simd"].get("/api/inbox/%s" % came[a], tcp=True).status, 200,
         "GET /api/inbox of an arrival in a public tank needs no token")
    t.ok(jerr(d["simd"].get("/api/inbox/%s" % came[p], tcp=True), 401, "unauthorized"),
         "GET /api/inbox of an arrival in a private tank over TCP without the token: 401")
    t.eq(d["simd"].get("/api/inbox/%s" % came[p], tcp=True, token=token).status, 200, "with the token: 200")
    for n in names:
        t.ok(jerr(d[n].get("/metrics", tcp=True), 401), "%s /metrics over TCP without the token: 401" % n)
        t.eq(d[n].get("/metrics", tcp=True, headers={"Authorization": "bearer " + token}).status, 200,
             "%s /metrics over TCP with the token" % n)
        t.eq(d[n].get("/metrics").status, 200, "%s /metrics over the socket" % n)
        t.eq(d[n].get("/health", tcp=True).status, 200, "%s /health needs no token" % n)

    # Content-Type: a body must be JSON, on both listeners.
    for tcp in (False, True):
        hdr = {"Authorization": "Bearer " + token} if tcp else {}
        for ct in ("text/plain", "application/x-www-form-urlencoded", "application/jsonx", ""):
            raw = json.dumps({"name": "CT", "initial_fish": 1})
            r = d["simd"].req("POST", "/api/tanks", tcp=tcp, raw=raw, headers=dict(hdr, **{"Content-Type": ct}))
            t.ok(jerr(r, 415, "unsupported_media_type"),
                 "POST with Content-Type %r over %s: JSON 415" % (ct, "TCP" if tcp else "the socket"), r)
        r = d["simd"].req("POST", "/api/tanks", tcp=tcp, raw=json.dumps({"name": "CT2", "initial_fish": 0}),
                          headers=dict(hdr, **{"Content-Type": "Application/JSON; charset=utf-8"}))
        t.eq(r.status, 201, "application/json with a charset, any case, is accepted (%s)" % ("TCP" if tcp else "socket"))
    t.ok("CT" not in [x["tank"]["name"] for x in d["simd"].get("/api/tanks").json()["tanks"]],
         "no tank was created from a non-JSON body")

    # The Unix sockets: a client outside their group cannot connect; one in it can.
    gid = 4242
    probe = ("import socket,sys\ns=socket.socket(socket.AF_UNIX)\ntry:\n s.connect(sys.argv[1])\n"
             " s.sendall(b'DELETE /api/tanks/%s HTTP/1.0\\r\\n\\r\\n')\n print(s.recv(100)[:12].decode())\n"
             "except PermissionError:\n print('EACCES')\n" % a)
    def as_nobody(groups, code, sock):
        """Runs the probe as uid 65534 with only the given supplementary group; a probe
        that cannot run or hangs is a result to report, not a crash of the test."""
        try:
            r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--groups=%d" % groups,
                                "/usr/bin/python3", "-c", code, sock], capture_output=True, text=True, timeout=30)
            return r.stdout.strip(), r.stderr.strip()
        except (OSError, subprocess.TimeoutExpired) as e:
            return "", str(e)

    def mapped(kind, ids):
        """True when every id is mapped in this process's user namespace."""
        try:
            rows = [[int(x) for x in line.split()] for line in open("/proc/self/%s_map" % kind)]
        except OSError:
            return True
        return all(any(lo <= i < lo + count for lo, _, count in rows) for i in ids)

    can_chown = os.geteuid() == 0
    if can_chown and not (mapped("uid", [65534]) and mapped("gid", [65534, gid, gid + 1])):
        can_chown = False
        why = "this user namespace does not map uid 65534 and groups %d, %d" % (gid, gid + 1)
    elif can_chown:
        # A root that lives in a user namespace may not map these groups (chown then
        # fails with EINVAL): that machine cannot run the checks, which is not a failure
        # of the daemons.
        try:
            os.chown(d["simd"].socket, 0, gid)
            os.chown(d["simd"].socket, 0, gid + 1)
        except OSError as e:
            can_chown = False
            why = "this root cannot give a socket the group %d (%s)" % (gid, e)
    else:
        why = "the Unix socket group checks need root (setpriv, chown)"
    for n in names if can_chown else []:
        sock = d[n].socket
        os.chmod(os.path.dirname(sock), 0o755)
        os.chown(sock, 0, gid)
        mode = stat.S_IMODE(os.stat(sock).st_mode)
        t.eq(mode, 0o660, "%s's socket is 0660" % n)
        out, err = as_nobody(gid + 1, probe, sock)
        t.ok(out == "EACCES", "%s: a client in another group is refused" % n, "got %r %s" % (out, err))
        if n == "discoveryd":
            out, err = as_nobody(gid, probe.replace("DELETE /api/tanks/%s" % a, "GET /health"), sock)
            t.ok(out.startswith("HTTP/1.0 200") or out.startswith("HTTP/1.1 200"),
                 "a client in the socket's group gets through", out + err)
    if not can_chown:
        print("ok %d - # SKIP %s" % (t.n + 1, why))
        t.n += 1
    t.ok(a in d["simd"].get("/api/tanks").body, "the tank survived the refused socket clients")

    # Without a token, TCP is read-only; insecure = yes opens it.
    ro = Daemon("simd", os.path.join(root, "ro"), "sec-ro", port2, extra={"security.token_file": ""})
    ro.start()
    r = ro.post("/api/tanks", {"name": "X", "initial_fish": 0}, tcp=True)
    t.ok(jerr(r, 403, "read_only"), "no token configured: a TCP mutation is a JSON 403", r)
    m = ro.get("/metrics", tcp=True)
    t.ok(jerr(m, 403, "trusted_only") and "Unix socket" in m.json().get("error", ""),
         "... and /metrics is not served over TCP: a 403 that says where it is, not a 401 asking "
         "for a token no one has", m)
    t.eq(ro.get("/api/tanks", tcp=True).status, 200, "... while TCP reads work")
    t.eq(ro.post("/api/tanks", {"name": "X", "initial_fish": 0}).status, 201, "... and the socket may mutate")
    ro.stop()
    ins = Daemon("simd", os.path.join(root, "ro"), "sec-ro", port2,
                 extra={"security.token_file": "", "security.insecure": "yes"})
    ins.start()
    t.eq(ins.post("/api/tanks", {"name": "Y", "initial_fish": 0}, tcp=True).status, 201,
         "insecure = yes: TCP mutations without a token")
    # ... but not from a web page of another site: a POST without a body needs no
    # preflight, and would create the tank even though the page cannot read the answer.
    here = "127.0.0.1:%d" % port2
    names_before = sorted(x["tank"]["name"] for x in ins.get("/api/tanks").json()["tanks"])
    for origin, host, code, what in [
            ("http://evil.example", here, "cross_origin", "a page of another site"),
            ("null", here, "cross_origin", "a page with an opaque origin"),
            ("http://evil.example:%d" % port2, "evil.example:%d" % port2, "forbidden_host",
             "a site whose name was rebound to 127.0.0.1")]:
        r = ins.req("POST", "/api/tanks?name=Evil", tcp=True, headers={"Origin": origin, "Host": host})
        t.ok(jerr(r, 403, code), "insecure = yes: a change from %s is a 403 %s" % (what, code), r)
    t.eq(sorted(x["tank"]["name"] for x in ins.get("/api/tanks").json()["tanks"]), names_before,
         "... and made no tank")
    r = ins.req("POST", "/api/tanks?name=Own", tcp=True, headers={"Origin": "http://" + here, "Host": here})
    t.eq(r.status, 201, "the server's own page (the viewer) may change it")
    r = ins.req("POST", "/api/tanks?name=Script", tcp=True)
    t.eq(r.status, 201, "and a client that is not a browser (no Origin), as in the original's recipe")
    ins.stop()

    # A private default tank is not named to a reader who cannot list it.
    pv = Daemon("simd", os.path.join(root, "pv"), "sec-pv", port2, extra=dict(common))
    pv.start()
    first = pv.get("/api/tanks").json()["default_tank_id"]
    p1 = pv.post("/api/tanks", {"name": "P", "initial_fish": 0, "is_public": False}).json()["tank"]["tank_id"]
    t.eq(pv.delete("/api/tanks/%s" % first).status, 200, "the first tank deleted: the private one is the default")
    t.eq(pv.get("/api/tanks").json()["default_tank_id"], p1, "the socket is told the private default tank")
    r = pv.get("/api/tanks", tcp=True).json()
    t.ok(r["count"] == 0 and r["default_tank_id"] is None, "TCP without the token: no tank, no default named", r)
    p2 = pv.post("/api/tanks", {"name": "Q", "initial_fish": 0}).json()["tank"]["tank_id"]
    t.eq(pv.get("/api/tanks", tcp=True).json()["default_tank_id"], p2,
         "with a public tank, that one is named the default instead")
    t.eq(pv.get("/api/tanks?include_private=true", tcp=True, token=token).json()["default_tank_id"], p1,
         "with the token, the private default tank")
    pv.stop()

    # A token file others can read is refused at start, with the fix.
    loose = os.path.join(root, "loose-token")
    write_token(loose, token)
    os.chmod(loose, 0o644)
    for n in names:
        x = Daemon(n, os.path.join(root, "loose"), "sec-loose", port2, extra={"security.token_file": loose})
        ok, log = x.start_fails(["readable by others", "chmod o-rwx " + loose], tail=30)
        t.ok(ok, "%s refuses a token file readable by others, naming the fix" % n, log)
finally:
    finish(t, root, [d[n] for n in names], 15)
t.done()
