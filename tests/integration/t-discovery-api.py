#!/usr/bin/env python3
"""discoveryd's API on one hub: every endpoint, the error shapes, the cluster token
on TCP, and 500 malformed or hostile requests that must leave the registry as it was."""
import json
import os
import random
import socket
import time

from twlib import Daemon, Tap, base_ports, finish, tmpdir, wait_until, write_token

t = Tap()
root = tmpdir("twda")
port = base_ports(1)[0]
token = "s3cret-token-0123456789abcdef"
write_token(os.path.join(root, "token"), token)
hub = Daemon("discoveryd", root, "hub", port,
             extra={"security.token_file": os.path.join(root, "token")})


def info(sid, **kw):
    d = {"server_id": sid, "hostname": "h-" + sid, "host": "127.0.0.1", "port": 9001,
         "discovery_port": 9000, "migration_port": 9002, "tank_count": 1, "version": "t",
         "uptime_seconds": 1.5, "platform": "Linux", "architecture": "x86_64",
         "logical_cpus": 2, "is_local": True, "status": "offline"}
    d.update(kw)
    return d


def is_json_error(r):
    try:
        j = r.json()
    except ValueError:
        return False
    return isinstance(j, dict) and isinstance(j.get("error"), str) and isinstance(j.get("code"), str)


try:
    hub.start()
    r = hub.get("/health")
    t.ok(r.status == 200 and r.json()["status"] == "healthy", "GET /health", r)
    r = hub.get("/api/servers/local", tcp=True)
    t.ok(r.status == 200 and r.json()["server_id"] == "hub" and r.json()["is_local"] is True,
         "GET /api/servers/local over TCP", r)

    # Registration over the Unix socket needs no token.
    r = hub.post("/api/discovery/register", info("w1"))
    t.ok(r.status == 200 and r.json() == {"status": "registered", "server_id": "w1",
         "message": "Server w1 registered successfully"}, "register over the Unix socket", r)
    s = {x["server_id"]: x for x in hub.get("/api/discovery/servers").json()["servers"]}
    t.ok(s["w1"]["is_local"] is False, "is_local is computed by the receiver, not trusted")
    t.eq(s["w1"]["status"], "online", "status is computed, not taken from the body")
    t.eq(s["w1"]["hostname"], "h-w1", "fields are stored")

    # TCP mutations need the token.
    r = hub.post("/api/discovery/register", info("w2"), tcp=True)
    t.ok(r.status == 401 and is_json_error(r), "TCP register without the token is 401 JSON", r)
    r = hub.post("/api/discovery/register", info("w2"), tcp=True, token="wrong-token-123456")
    t.eq(r.status, 401, "TCP register with a wrong token is 401")
    r = hub.post("/api/discovery/register", info("w2"), tcp=True, token=token)
    t.eq(r.status, 200, "TCP register with the token")
    r = hub.get("/api/discovery/servers", tcp=True)
    t.ok(r.status == 200 and r.json()["count"] == 3, "TCP reads need no token", r)

    r = hub.post("/api/discovery/heartbeat/w1", info("w1", tank_count=7), tcp=True, token=token)
    t.ok(r.status == 200 and r.json()["status"] == "ok", "heartbeat with a body", r)
    r = hub.post("/api/discovery/heartbeat/w1", tcp=True, token=token)
    t.eq(r.status, 200, "heartbeat without a body")
    t.eq(hub.get("/api/discovery/servers/w1").json()["tank_count"], 7,
         "heartbeat body updates the entry")
    r = hub.post("/api/discovery/heartbeat/nobody", token=token)
    t.ok(r.status == 404 and r.json()["status"] == "error" and
         "Please register first" in r.json()["message"], "unknown heartbeat is the 404 the original "
         "workers understand", r)
    r = hub.post("/api/discovery/heartbeat/w1", info("w2"))
    t.ok(r.status == 400 and r.json()["code"] == "server_id_mismatch",
         "a heartbeat whose body names another server is refused", r)
    t.eq(hub.get("/api/discovery/servers/w2").json()["hostname"], "h-w2",
         "and the other server's entry is unchanged")
    r = hub.post("/api/discovery/register", info("hub"))
    t.ok(r.status == 409 and is_json_error(r), "a peer cannot register the hub's own id", r)
    # A worker configured with the hub's id must hear it at its heartbeat too: a 200 there
    # told it all was well while it was never listed.
    r = hub.post("/api/discovery/heartbeat/hub", token=token)
    t.ok(r.status == 409 and r.json().get("code") == "own_id",
         "a heartbeat naming the hub's own id is a 409 own_id", r)
    r = hub.delete("/api/discovery/unregister/hub")
    t.eq(r.status, 409, "the hub cannot be unregistered")

    r = hub.get("/api/discovery/servers?include_local=false")
    t.eq(sorted(x["server_id"] for x in r.json()["servers"]), ["w1", "w2"], "include_local=false")
    r = hub.get("/api/discovery/servers?status=online")
    t.eq(r.json()["count"], 3, "status=online")
    r = hub.get("/api/discovery/servers?status=bogus")
    t.ok(r.status == 400 and is_json_error(r), "bad status filter is a 400", r)
    r = hub.get("/api/discovery/servers?include_local=maybe")
    t.eq(r.status, 400, "bad include_local is a 400")

    r = hub.delete("/api/discovery/unregister/w2", tcp=True, token=token)
    t.ok(r.status == 200 and r.json()["status"] == "unregistered", "unregister", r)
    r = hub.delete("/api/discovery/unregister/w2")
    t.ok(r.status == 404 and is_json_error(r), "unregister unknown is a JSON 404", r)

    r = hub.get("/nope")
    t.ok(r.status == 404 and is_json_error(r), "unknown path is a JSON 404", r)
    r = hub.req("PUT", "/api/discovery/register")
    t.ok(r.status == 405 and is_json_error(r) and r.headers.get("Allow") == "POST",
         "wrong method is a JSON 405 with Allow", r)
    r = hub.post("/api/discovery/register", raw=b'{"server_id":"' + b"x" * 70000 + b'"}')
    t.ok(r.status == 413 and is_json_error(r), "a body over the limit is a JSON 413", r)
    # A body far over the limit is not kept: evhttp used to buffer up to 8 MiB of it from
    # anyone, token or none, before any handler saw the request (256 such connections
    # held 2 GB of this daemon); now it reads and drops what is past the limit.
    def rss_kib():
        with open("/proc/%d/status" % hub.proc.pid) as f:
            return next(int(x.split()[1]) for x in f if x.startswith("VmRSS:"))
    rss0 = rss_kib()
    held = []
    for i in range(16):
        c = socket.create_connection(("127.0.0.1", port), timeout=10)
        c.sendall(b"POST /api/discovery/register HTTP/1.1\r\nHost: x\r\nContent-Length: 8000000\r\n\r\n")
        c.sendall(b"x" * (1 << 20))
        held.append(c)
    time.sleep(1)
    grew = rss_kib() - rss0
    for c in held:
        c.close()
    if os.environ.get("TW_SANITIZERS") == "yes":
        # ASan's quarantine keeps the chunks evhttp read and dropped: RSS says nothing.
        t.diag("sanitizers: discoveryd grew %d KiB (not judged)" % grew)
    else:
        t.ok(grew < 8 * 1024, "16 unfinished 8 MB bodies, 1 MiB sent each: discoveryd grew "
             "%d KiB (it kept them whole: 16 MiB and more)" % grew)
    # Whole, such a body is refused by evhttp (HTML), which never hands it to a route:
    # kept whole, it reached the route's JSON 413.
    c = socket.create_connection(("127.0.0.1", port), timeout=30)
    c.sendall(b"POST /api/discovery/register HTTP/1.1\r\nHost: x\r\nContent-Length: 8000000\r\n\r\n")
    try:
        c.sendall(b"x" * 8000000)
        answer = c.recv(4096)
    except OSError as e:
        answer = str(e).encode()
    c.close()
    t.ok(b" 413 " in answer.split(b"\r\n")[0] and b'"code"' not in answer,
         "an 8 MB body is refused by evhttp, not read whole for the route", answer[:200])
    t.ok(hub.get("/health").status == 200, "and it answers")
    # evhttp keeps a CONNECT's connection open whatever the answer (a tunnel): the next
    # sweep closes it, even when bytes follow (they used to restart a request timeout).
    c = socket.create_connection(("127.0.0.1", port), timeout=15)
    c.sendall(b"CONNECT /health HTTP/1.1\r\nHost: x\r\n\r\n")
    began = time.time()
    answer = c.recv(4096)
    time.sleep(0.05)
    c.sendall(b"G")
    rest = b"-"
    try:
        while rest:
            rest = c.recv(4096)
    except OSError:
        pass
    c.close()
    t.ok(b" 405 " in answer.split(b"\r\n")[0] and time.time() - began < 4,
         "a CONNECT's connection is closed by the next sweep, a byte after it or not (%.1f s)"
         % (time.time() - began), answer[:100])

    m = hub.get("/metrics").body
    t.ok('tankworld_discovery_servers{status="online"} 2' in m and
         "tankworld_discovery_heartbeats_received_total 2" in m, "metrics count servers and heartbeats", m)

    # 500 malformed or hostile requests: each a JSON 4xx, nothing changes.
    before = json.dumps(sorted(hub.get("/api/discovery/servers").json()["servers"],
                               key=lambda x: x["server_id"]), sort_keys=True)
    rng = random.Random(42)
    hostile_bodies = [
        b"", b"{", b"[]", b"null", b"42", b'"str"', b"{}", b'{"server_id":1}', b"{} trailing",
        b'{"server_id":"a","host":"h","port":"80"}', b'{"server_id":"a","host":"h","port":0}',
        b'{"server_id":"a","host":"h","port":70000}', b'{"server_id":"../etc","host":"h","port":80}',
        b'{"server_id":"a b","host":"h","port":80}', b'{"server_id":"a","host":"bad host","port":80}',
        b'{"server_id":"a","host":"h","port":80,"tank_count":-1}', b'\xff\xfe{}',
        b'{"server_id":"' + b"a" * 65 + b'","host":"h","port":80}', b'{"server_id":"a\\u0000b","host":"h","port":80}',
        b'{"server_id":"a","host":"h","port":1e999}', b'{"server_id":"a","host":"h","port":99999999999999999999}',
        b"[" * 100 + b"]" * 100, b'{"a":' * 50 + b"1" + b"}" * 50,
        b'{"server_id":"a","host":"h","port":80,"uptime_seconds":"x"}',
        b'{"server_id":"a","host":"h","port":80,"hostname":"\\u0007bell"}',
        b'{"server_id":"a","host":"h","port":80,"is_local":"yes"}',
    ]
    hostile_paths = ["/api/discovery/heartbeat/..%2F..%2Fetc", "/api/discovery/heartbeat/../../x",
                     "/api/discovery/heartbeat/" + "a" * 300, "/api/discovery/heartbeat/a%00b",
                     "/api/discovery/unregister/..", "/api/discovery/unregister/%2e%2e",
                     "/api/discovery/heartbeat/", "/api/discovery//heartbeat/w1",
                     "/api/discovery/servers/../../etc/passwd"]
    bad = []
    for i in range(500):
        kind = i % 5
        if kind == 0:
            r = hub.post("/api/discovery/register", raw=rng.choice(hostile_bodies))
        elif kind == 1:
            body = bytearray(json.dumps(info("zz%d" % i)).encode())
            for _ in range(rng.randint(1, 6)):
                body[rng.randrange(len(body))] = rng.randrange(256)
            r = hub.post("/api/discovery/register", raw=bytes(body))
            if r.status == 200:  # a mutation can still be valid JSON and a valid id
                hub.delete("/api/discovery/unregister/" + r.json()["server_id"])
                continue
        elif kind == 2:
            r = hub.post("/api/discovery/heartbeat/w1", raw=rng.choice(hostile_bodies[1:]))
        elif kind == 3:
            r = hub.req(rng.choice(["POST", "DELETE", "GET"]), rng.choice(hostile_paths))
        else:
            r = hub.post("/api/discovery/register", raw=b"{" + b'"k":1,' * rng.randint(10000, 20000) + b"}")
        if not (400 <= r.status < 500 and is_json_error(r)):
            bad.append((i, r.status, r.body[:120]))
    t.ok(not bad, "500 hostile requests each got a JSON 4xx", bad[:10])
    t.ok(hub.alive(), "the daemon is still up")
    after = json.dumps(sorted(hub.get("/api/discovery/servers").json()["servers"],
                              key=lambda x: x["server_id"]), sort_keys=True)

    def strip(s):
        return [{k: v for k, v in x.items() if k not in ("uptime_seconds", "heartbeat_age_seconds",
                "last_heartbeat_at", "status")} for x in json.loads(s)]
    t.eq(strip(after), strip(before), "the registry is unchanged")

    # max_servers bounds what peers can make of the registry (this server included);
    # what the journal holds is never refused, so a lower bound forgets nobody.
    small_root = os.path.join(root, "small")
    small = Daemon("discoveryd", small_root, "small", base_ports(1)[0],
                   extra={"discovery.max_servers": "3"})
    small.start()
    listed = lambda: sorted(s["server_id"] for s in small.get("/api/discovery/servers").json()["servers"])
    t.ok(all(small.post("/api/discovery/register", info(p)).status == 200 for p in ("p1", "p2")),
         "max_servers 3: two peers register beside the hub")
    r = small.post("/api/discovery/register", info("p3"))
    t.ok(r.status == 503 and r.json().get("code") == "registry_full" and "max_servers (3)" in r.json()["error"],
         "a third is a 503 registry_full naming the bound", r)
    t.eq(listed(), ["p1", "p2", "small"], "and is not listed")
    r = small.post("/api/discovery/register", info("p1", port=9100))
    t.ok(r.status == 200 and small.get("/api/discovery/servers/p1").json()["port"] == 9100,
         "a known peer still registers again (its new port is kept)", r)
    small.delete("/api/discovery/unregister/p2")
    t.eq(small.post("/api/discovery/register", info("p3")).status, 200, "once one is gone, there is room")
    small.stop()
    small.extra["discovery.max_servers"] = "1"
    small.start()
    t.eq(listed(), ["p1", "p3", "small"], "restarted with max_servers 1: every journaled server is still there")
    t.eq(small.post("/api/discovery/register", info("p4")).status, 503, "and a new one is refused")
    # A hub that is full says so to a new worker, and the worker's warning gives the reason.
    worker = Daemon("discoveryd", os.path.join(root, "worker"), "worker", base_ports(1)[0],
                    extra={"discovery.max_servers": "2", "discovery.hub_url": small.url})
    worker.start()
    t.ok(wait_until(lambda: "registration failed: HTTP 503: the registry holds max_servers (1)"
                    in worker.log_tail(), 5), "a worker refused by a full hub warns with the hub's reason",
         worker.log_tail(5))
    worker.stop()
    # A worker learns its hub's list up to its own bound, and says what it left out (it
    # crashed on the first server past it).
    small.stop()
    small.extra["discovery.max_servers"] = "10"
    small.start()
    worker.start()
    wl = lambda: sorted(s["server_id"] for s in worker.get("/api/discovery/servers").json()["servers"])
    t.ok(wait_until(lambda: "not learned" in worker.log_tail(), 5) and worker.alive(),
         "a worker with max_servers 2 under a hub listing 4 keeps running and logs it", worker.log_tail(5))
    t.ok("listed 2 server(s) past [discovery] max_servers (2): not learned" in worker.log_tail()
         and len(wl()) == 2 and "worker" in wl(), "it learns one of them beside itself", (wl(), worker.log_tail(5)))
    t.eq(worker.stop(), 0, "and stops cleanly")
    # A tank count that changes reaches the hub at once, not at the next heartbeat (30 s
    # here): a server just started advertised 0 tanks for one, as simd writes the count
    # after discoveryd has read it (a new user's audit). simd's summary.json is written
    # by hand here.
    worker.extra["discovery.heartbeat_interval"] = "30"
    worker.extra["discovery.heartbeat_timeout"] = "90"
    worker.start()
    count = lambda: (small.get("/api/discovery/servers/worker").json() or {}).get("tank_count")
    t.ok(wait_until(lambda: count() == 0, 5), "the hub lists the worker with 0 tanks", count())
    summary = os.path.join(worker.state_dir, "sim", "summary.json")
    os.makedirs(os.path.dirname(summary), exist_ok=True)
    with open(summary + ".tmp", "w") as f:
        f.write('{"tank_count":3,"fish":12}\n')
    os.rename(summary + ".tmp", summary)
    t0 = time.time()
    t.ok(wait_until(lambda: count() == 3, 20), "3 tanks: the hub knows within %.1f s, not at the next "
         "heartbeat 30 s on" % (time.time() - t0), count())
    t.eq(worker.stop(), 0, "stops cleanly")
    small.stop()

    # A non-loopback listener without a token is refused.
    rc = hub.stop()
    t.eq(rc, 0, "SIGTERM exits 0")
    exposed = Daemon("discoveryd", os.path.join(root, "exposed"), "exposed", port,
                     extra={"discovery.listen": "0.0.0.0:%d" % port, "security.token_file": ""})
    exposed.start(wait=False)
    rc = exposed.proc.wait(10)
    log = exposed.log_tail()
    t.ok(rc != 0 and "without a cluster token" in log, "0.0.0.0 without a token refuses to start", log)
    exposed._close()
finally:
    finish(t, root, [hub] + [globals()[n] for n in ("small", "worker") if n in globals()])
t.done()
