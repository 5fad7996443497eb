#!/usr/bin/env python3
"""backend = etcd against a real 3-member etcd cluster on loopback ports, started and
stopped here: two full servers list each other online within 2 s; killing one member
changes nothing and migrations commit; a server whose discoveryd is killed is offline in
the other's list within heartbeat_timeout + 2 s; restarting every member (with its data)
lets the servers recover without a restart of their own; conservation is exact. Also: a
malformed etcd_endpoints stops the daemon with file:line, and an endpoint answering
garbage is logged and ignored."""
import json
import os
import secrets
import shutil
import subprocess
import time

from migratedlib import Server, conservation, migrated_built, servers_quiet, simd_built
from twlib import BUILD, WRAPPER, Daemon, StubServer, Tap, base_ports, free_port, request, tmpdir, wait_until, write_token

ETCD = shutil.which("etcd") or "/usr/bin/etcd"
if not simd_built() or not migrated_built():
    print("1..0 # SKIP simd or migrated not built")
    raise SystemExit(0)
if not os.access(ETCD, os.X_OK):
    print("1..0 # SKIP etcd not installed (Debian package etcd-server)")
    raise SystemExit(0)

t = Tap()
root = tmpdir("twetcd")
TIMEOUT = 2.0


class Member:
    def __init__(self, name, cluster):
        self.name = name
        self.client = free_port()
        self.peer = free_port()
        self.data = os.path.join(root, "etcd-" + name)
        self.cluster = cluster
        self.proc = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.client

    def start(self):
        log = open(os.path.join(root, "etcd-%s.log" % self.name), "ab")
        self.proc = subprocess.Popen([
            ETCD, "--name", self.name, "--data-dir", self.data,
            "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
            "--listen-peer-urls", "http://127.0.0.1:%d" % self.peer,
            "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % self.peer,
            "--initial-cluster", self.cluster.initial, "--initial-cluster-state", "new",
            "--initial-cluster-token", self.cluster.token,
            "--heartbeat-interval", "50", "--election-timeout", "500",
            "--listen-metrics-urls", "http://127.0.0.1:%d" % free_port()],
            stdout=log, stderr=subprocess.STDOUT)

    def healthy(self):
        try:
            r = request("GET", self.url, path="/health", timeout=2)
        except OSError:
            return False
        return r.status == 200 and '"true"' in r.body

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill9()


class Cluster:
    def __init__(self, n):
        self.token = "tw-" + secrets.token_hex(6)
        self.members = [Member("m%d" % i, self) for i in range(n)]
        self.initial = ",".join("%s=http://127.0.0.1:%d" % (m.name, m.peer) for m in self.members)

    def start(self):
        for m in self.members:
            m.start()
        return wait_until(lambda: all(m.healthy() for m in self.members), 30, 0.2)

    @property
    def endpoints(self):
        return ", ".join(m.url for m in self.members)


def listing(d):
    r = d.get("/api/discovery/servers")
    return {s["server_id"]: s["status"] for s in r.json()["servers"]} if r.status == 200 else {}


def both_online(a, b):
    return listing(a.disc).get(b.id) == "online" and listing(b.disc).get(a.id) == "online"


def committed(s):
    r = s.mig.get("/api/transfers?limit=1000")
    return sum(1 for x in r.json()["transfers"] if x["state"] == "committed") if r.status == 200 else -1


def etcd_stub(range_answer, watch_answer=None, asked=None):
    """A stub etcd for StubServer: it grants and keeps the lease and takes puts as etcd
    does, answers a range with range_answer and a watch with the line watch_answer (404
    when None), and appends each path asked to the list asked."""
    def answer(method, path, body):
        if asked is not None:
            asked.append(path)
        if path == "/v3/lease/grant":
            return 200, {"ID": "7", "TTL": "10"}
        if path == "/v3/lease/keepalive":
            return 200, {"result": {"ID": "7", "TTL": "10"}}
        if path == "/v3/kv/put":
            return 200, {"header": {"revision": "5"}}
        if path == "/v3/kv/range":
            return 200, range_answer
        if path == "/v3/watch" and watch_answer is not None:
            return 200, (json.dumps(watch_answer) + "\n").encode()
        return 404, {}
    return answer


def etcd_client(name, url):
    """A discoveryd h on the etcd at url, given 1.2 s to talk to it."""
    d = Daemon("discoveryd", os.path.join(root, name), "h", free_port(),
               extra={"discovery.backend": "etcd", "security.token_file": token_file,
                      "discovery.etcd_endpoints": url,
                      "discovery.heartbeat_interval": "0.2", "discovery.heartbeat_timeout": "1"})
    d.start()
    time.sleep(1.2)
    return d


etcd = Cluster(3)
token_file = os.path.join(root, "token")
write_token(token_file, "etcd-token-0123456789abcdef\n")
common = {"security.token_file": token_file, "discovery.backend": "etcd",
          "discovery.etcd_endpoints": etcd.endpoints,
          "discovery.etcd_prefix": "/tw-test-%s/" % secrets.token_hex(3),
          "discovery.heartbeat_interval": "0.5", "discovery.heartbeat_timeout": str(TIMEOUT),
          "discovery.evict_after": "3600", "migration.request_timeout": "1",
          "migration.check_interval": "0.5", "sim.tick_rate": "10"}
p1, p2 = base_ports(2)
s1 = Server(root, "s1", p1, dict(common))
s2 = Server(root, "s2", p2, dict(common))
garbage_srv = None
try:
    t.ok(etcd.start(), "a 3-member etcd cluster is healthy")

    # Bad configuration stops the daemon with file:line and the reason.
    bad = Daemon("discoveryd", os.path.join(root, "bad"), "bad", free_port())
    with open(bad.conf) as f:
        line = len(f.read().splitlines()) + 3
    with open(bad.conf, "a") as f:
        f.write("[discovery]\nbackend = etcd\netcd_endpoints = %s,, http://x\n" % etcd.members[0].url)
    p = subprocess.run(WRAPPER + [os.path.join(BUILD, "discoveryd", "discoveryd"), "-c", bad.conf],
                       capture_output=True, text=True, timeout=30)
    t.ok(p.returncode != 0 and "tankworld.conf:%d:" % line in p.stderr and "empty item" in p.stderr,
         "a malformed etcd_endpoints stops discoveryd with file:line and why", p.stderr)

    t0 = time.time()
    s1.disc.start(wait=False)
    s2.disc.start(wait=False)
    for d in (s1.disc, s2.disc):
        if not d.notify.wait_for("READY=1", 30):
            raise RuntimeError("not ready: " + d.log_tail())
    ok = wait_until(lambda: both_online(s1, s2), 2.0 - (time.time() - t0), 0.05)
    t.ok(ok, "two servers list each other online within 2 s (%.2f s)" % (time.time() - t0),
         (listing(s1.disc), listing(s2.disc)))
    # Both may list each other from their journals before the first answer from etcd:
    # "connected" follows within the same 2 s.
    wait_until(lambda: s1.disc.get("/health").json().get("etcd", {}).get("connected"), 2.0)
    h = s1.disc.get("/health").json()
    t.ok(h.get("role") == "etcd" and h.get("etcd", {}).get("connected"), "/health: role etcd, connected", h)

    for d in (s1.sim, s1.mig, s2.sim, s2.mig):
        d.start()
    for s in (s1, s2):
        s.pause_all()
    A = s1.create_tank("etcd-A", 25, paused=True)
    B = s2.create_tank("etcd-B", 25, paused=True)
    expected = set(s1.fish_places()) | set(s2.fish_places())
    conns = {}
    for src, dst, sa, sd in ((s1, s2, A, B), (s2, s1, B, A)):
        r = src.mig.post("/api/connections", {
            "source_tank_id": sa, "destination_tank_id": sd, "source_server_id": src.id,
            "destination_server_id": dst.id, "probability": 100, "direction": "right"})
        conns[src.id] = r.json().get("id", "") if r.status == 201 else ""
    t.ok(all(conns.values()), "connections both ways")

    # One member killed: nothing changes, migrations commit.
    etcd.members[0].kill9()
    c1, c2 = committed(s1), committed(s2)
    flapped = []
    end = time.time() + 3
    while time.time() < end:
        if not both_online(s1, s2):
            flapped.append(round(time.time() - end + 3, 2))
        time.sleep(0.1)
    t.eq(flapped, [], "with one etcd member killed, both stay online in each other's list")
    t.ok(wait_until(lambda: committed(s1) > c1 and committed(s2) > c2, 15),
         "migrations commit with one member down")

    # s2's discoveryd killed: offline for s1 within heartbeat_timeout + 2 s.
    s2.disc.kill9()
    tk = time.time()
    off = wait_until(lambda: listing(s1.disc).get("s2") == "offline", TIMEOUT + 2, 0.05)
    t.ok(off, "s2 offline in s1's list %.2f s after its discoveryd was killed (limit %.1f s)"
         % (time.time() - tk, TIMEOUT + 2))
    s2.disc.start()
    t.ok(wait_until(lambda: both_online(s1, s2), 5), "s2 online again after its restart")

    # Every member restarted with its data; the servers recover by themselves.
    for m in etcd.members:
        m.stop()
    time.sleep(1)
    for m in etcd.members:
        m.start()
    t.ok(wait_until(lambda: all(m.healthy() for m in etcd.members), 30, 0.2),
         "every member restarted with its data")
    tr = time.time()
    t.ok(wait_until(lambda: both_online(s1, s2) and
                    s1.disc.get("/health").json().get("etcd", {}).get("connected") and
                    s2.disc.get("/health").json().get("etcd", {}).get("connected"), 20),
         "servers recover without a restart (%.2f s)" % (time.time() - tr))
    c1 = committed(s1)
    t.ok(wait_until(lambda: committed(s1) > c1, 15), "migrations commit after the restart")

    for s in (s1, s2):
        s.mig.delete("/api/connections/" + conns[s.id].replace(">", "%3E"))

    t.ok(servers_quiet((s1, s2)), "nothing in flight, outboxes empty")
    after = [s1.fish_places(), s2.fish_places()]
    lost, dup, unexpected = conservation(after, expected)
    t.ok(not lost and not dup and not unexpected and sum(len(x) for x in after) == len(expected),
         "every fish id in exactly one place (%d)" % len(expected),
         "lost %s dup %s unexpected %s" % (lost, dup, unexpected))

    # An endpoint answering garbage: logged, ignored.
    garbage_srv = StubServer(
        lambda method, path, body: (200, b'{"ID": {"no": "number"}, "result": 7, "header": []'))
    g = Daemon("discoveryd", os.path.join(root, "g"), "g", free_port(),
               extra={"discovery.backend": "etcd", "security.token_file": token_file,
                      "discovery.etcd_endpoints": garbage_srv.url,
                      "discovery.heartbeat_interval": "0.2", "discovery.heartbeat_timeout": "1"})
    g.start()
    time.sleep(1.5)
    t.ok(g.alive() and g.get("/health").status == 200 and "does not parse" in g.log_tail(100),
         "an etcd answering garbage is logged and ignored", g.log_tail(10))
    t.eq(g.stop(), 0, "and that discoveryd exits 0")
    garbage_srv.close()

    # An endpoint that answers the lease, the put and the range as etcd does, but with
    # keys, values and event types that are JSON null or no string: json-c reads a null
    # as NULL, which discoveryd once passed on to strcmp and its base64 decoder (each of
    # these four killed it). Refused as garbage; discoveryd lives on.
    for case in ("range key", "range value", "watch key", "watch type"):
        # Keys under the default prefix: /tankworld/servers/x and .../y.
        kvs = {"range key": [{"key": None, "value": None}],
               "range value": [{"key": "L3Rhbmt3b3JsZC9zZXJ2ZXJzL3g=", "value": None},
                               {"key": "L3Rhbmt3b3JsZC9zZXJ2ZXJzL3k=", "value": 7}]}.get(case, [])
        ev = ({"kv": {"key": None}} if case == "watch key"
              else {"type": None, "kv": {"key": "L3Rhbmt3b3JsZC9zZXJ2ZXJzL3g="}})
        garbage_srv = StubServer(etcd_stub({"header": {"revision": "5"}, "kvs": kvs},
                                           {"result": {"events": [ev, {"type": 1, "kv": {"key": []}}]}}))
        h = etcd_client("h-" + case.replace(" ", "-"), garbage_srv.url)
        t.ok(h.alive() and h.get("/health").status == 200, "an etcd answering a %s of null: discoveryd lives on"
             % case, h.log_tail(10))
        servers = h.get("/api/discovery/servers").json()["servers"] if h.alive() else []
        t.eq([x["server_id"] for x in servers], ["h"], "and learns no server from it")
        t.eq(h.stop(), 0, "and exits 0")
        garbage_srv.close()
    garbage_srv = None

    # A listing at revision INT64_MAX (or past it): the watch would start at the one after,
    # an overflow (undefined behaviour; the sanitizer build stops on it). Refused as
    # garbage, and discoveryd asks again instead of watching.
    for rev in ("9223372036854775807", "99999999999999999999", "-3"):
        asked = []
        garbage_srv = StubServer(etcd_stub({"header": {"revision": rev}, "kvs": []}, asked=asked))
        h = etcd_client("r" + rev[:3], garbage_srv.url)
        t.ok(h.alive() and h.get("/health").status == 200
             and "no header.revision, or one etcd cannot have" in h.log_tail(100),
             "an etcd listing at revision %s is refused as garbage; discoveryd lives on" % rev, h.log_tail(10))
        t.ok("/v3/watch" not in asked, "and no watch starts from it", asked[-5:])
        t.eq(h.stop(), 0, "and exits 0")
        garbage_srv.close()
    garbage_srv = None

    for d in (s1.mig, s1.sim, s2.mig, s2.sim, s1.disc, s2.disc):
        t.eq(d.stop(), 0, "%s %s exits 0 on SIGTERM" % (d.server_id, d.name))
finally:
    if t.failed:
        for s in (s1, s2):
            t.diag("--- %s discoveryd\n%s" % (s.id, s.disc.log_tail(30)))
    for s in (s1, s2):
        for d in (s.mig, s.sim, s.disc):
            if d.alive():
                d.kill9()
    for m in etcd.members:
        m.kill9()
    if garbage_srv:
        garbage_srv.close()
    shutil.rmtree(root, ignore_errors=True)
t.done()
