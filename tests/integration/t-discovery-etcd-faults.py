#!/usr/bin/env python3
"""backend = etcd against a fake etcd v3 JSON gateway run here (loopback, a free port),
which plays etcd (lease, put, paged range, streaming watch from a start revision) and
the faults a real one or a proxy in front of it shows. Each case is a defect once found:
a range whose "kvs" is not an array, or with one value that does not decode, changes no
peer; a large registry is read in pages at one revision while /health keeps answering; a
watch that sends bytes without a newline does not stall /health; an endpoint answering
HTML fails over to the next; etcd's revision going back (a restore) reads the registry
again and a server added afterwards is learned, and an event's absurd mod_revision is
not taken; with the range and the watch failing while keep-alives succeed, a peer goes
offline; this server's key deleted is written again; a listing at revision 0 starts no
request storm; a delete of a peer already offline is not logged again."""
import base64
import bisect
import http.server
import json
import os
import queue
import select
import signal
import shutil
import socket
import threading
import time

from twlib import Daemon, HealthProbe, Tap, free_port, tmpdir, wait_until

t = Tap()
root = tmpdir("twetcdf")
PREFIX = b"/tankworld/servers/"
INTERVAL, TIMEOUT = 0.5, 2.0


def b64(b):
    return base64.b64encode(b if isinstance(b, bytes) else b.encode()).decode()


def unb64(s):
    return base64.b64decode(s) if s else b""


def info(i, port=25000):
    return {"server_id": i, "hostname": "h-" + i, "host": "127.0.0.1", "port": port + 1,
            "discovery_port": port, "migration_port": port + 2, "tank_count": 0,
            "version": "0.1.0", "uptime_seconds": 0, "platform": "Linux",
            "architecture": "x86_64", "logical_cpus": 2}


class FakeEtcd:
    """etcd as its JSON gateway answers, in this process. Ranges honour key, range_end
    and limit (sorted keys, "more"); a watch replays the events from its start_revision,
    then streams new ones. override[path] = f(request) -> (status, body, content type)
    replaces an answer; noline makes every new watch stream bytes without a newline."""

    def __init__(self, html=False):
        self.lock = threading.Lock()
        self.rev = 10
        self.kvs = {}      # raw key -> kv as the gateway writes it
        self.events = []   # (revision, event), for the watches' replay
        self.junk = []     # sorted raw keys of a big registry of foreign keys
        self.junk_json = []
        self.watchers = []
        self.count = {}
        self.asked = {}    # path -> request bodies, in order
        self.override = {}
        self.noline = False
        self.html = html
        fake = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out as two writes: with Nagle's algorithm and the
            # client's delayed ACK each answer would wait 40 ms.
            disable_nagle_algorithm = True

            def log_message(self, *a):
                pass

            def send(self, status, body, ctype="application/json"):
                if not isinstance(body, bytes):
                    body = (body if isinstance(body, str) else json.dumps(body)).encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n)
                try:
                    req = json.loads(raw or b"{}")
                except ValueError:
                    req = {}
                with fake.lock:
                    fake.count[self.path] = fake.count.get(self.path, 0) + 1
                    fake.asked.setdefault(self.path, []).append(req)
                    ov = fake.override.get(self.path)
                if fake.html:
                    return self.send(200, b"<html><body>proxy login</body></html>", "text/html")
                if ov:
                    return self.send(*ov(req))
                if self.path == "/v3/watch":
                    return fake.watch(self, req)
                status, body = fake.answer(self.path, req)
                self.send(status, body)

        class S(http.server.ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 128

        self.httpd = S(("127.0.0.1", free_port()), H)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def header(self):
        return {"revision": str(self.rev)}

    def answer(self, path, req):
        with self.lock:
            if path == "/v3/lease/grant":
                return 200, {"header": self.header(), "ID": "7", "TTL": str(req.get("TTL", 10))}
            if path == "/v3/lease/keepalive":
                return 200, {"result": {"header": self.header(), "ID": "7", "TTL": "10"}}
            if path == "/v3/kv/put":
                self._put(unb64(req.get("key")), req.get("value", ""), req.get("lease", "0"))
                return 200, {"header": self.header()}
            if path == "/v3/kv/range":
                return 200, self._range(req)
        return 404, {"error": "not found"}

    def _put(self, key, value, lease="0"):
        self.rev += 1
        kv = {"key": b64(key), "value": value, "create_revision": str(self.rev),
              "mod_revision": str(self.rev), "version": "1", "lease": lease}
        self.kvs[key] = kv
        self._event(self.rev, {"kv": kv})

    def _event(self, rev, ev):
        self.events.append((rev, ev))
        line = json.dumps({"result": {"header": self.header(), "events": [ev]}})
        for w in self.watchers:
            if rev >= w["start"]:
                w["q"].put(line)

    def _range(self, req):
        start, end = unb64(req.get("key")), unb64(req.get("range_end"))
        limit = int(req.get("limit") or 0)
        want = limit + 1 if limit else None
        mine = sorted(k for k in self.kvs if start <= k < end)
        i = bisect.bisect_left(self.junk, start)
        j = len(self.junk) if want is None else min(len(self.junk), i + want)
        merged = sorted([(k, None) for k in mine] +
                        [(self.junk[x], x) for x in range(i, j) if self.junk[x] < end])
        if want is not None:
            merged = merged[:want]
        more = limit and len(merged) > limit
        if more:
            merged = merged[:limit]
        parts = [self.junk_json[x] if x is not None else json.dumps(self.kvs[k]) for k, x in merged]
        body = '{"header":{"revision":"%d"},"count":"%d"' % (self.rev, len(parts))
        if parts:
            body += ',"kvs":[' + ",".join(parts) + "]"
        return body + (',"more":true}' if more else "}")

    def watch(self, h, req):
        start = int(req.get("create_request", {}).get("start_revision") or 1)
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()

        def chunk(data):
            h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            h.wfile.flush()
        if self.noline:
            try:
                while self.noline:
                    chunk(b"x" * 65536)
            except OSError:
                pass
            return
        w = {"start": start, "q": queue.Queue()}
        with self.lock:
            w["q"].put(json.dumps({"result": {"header": self.header(), "created": True}}))
            for rev, ev in self.events:
                if rev >= start:
                    w["q"].put(json.dumps({"result": {"header": self.header(), "events": [ev]}}))
            self.watchers.append(w)
        try:
            while True:
                try:
                    line = w["q"].get(timeout=0.2)
                except queue.Empty:
                    # discoveryd may have ended the watch itself: stop holding it.
                    if select.select([h.connection], [], [], 0)[0] and \
                            not h.connection.recv(1, socket.MSG_PEEK):
                        break
                    continue
                if line is None:
                    chunk(b"")  # the end of the stream: the watch is over
                    break
                chunk((line + "\n").encode())
        except OSError:
            pass
        finally:
            with self.lock:
                if w in self.watchers:
                    self.watchers.remove(w)

    # ---- the test's side ----

    def put_server(self, i, value=None):
        with self.lock:
            self._put(PREFIX + i.encode(), value or b64(json.dumps(info(i))))

    def delete(self, i):
        """A deleterange of i's key, seen by the watches (also when it was not there)."""
        with self.lock:
            self.rev += 1
            self.kvs.pop(PREFIX + i.encode(), None)
            self._event(self.rev, {"type": "DELETE", "kv": {"key": b64(PREFIX + i.encode()),
                                                           "mod_revision": str(self.rev)}})

    def push(self, msg):
        with self.lock:
            for w in self.watchers:
                w["q"].put(json.dumps(msg))

    def compact(self):
        """A compaction notice on every watch: discoveryd reads the range again."""
        with self.lock:
            msg = {"result": {"header": self.header(), "compact_revision": str(self.rev),
                              "canceled": True}}
        self.push(msg)
        self.end_watches()  # etcd cancels a compacted watch

    def end_watches(self):
        with self.lock:
            for w in self.watchers:
                w["q"].put(None)

    def restore(self, rev, keep):
        """etcd restored from an older copy of its data: revision rev, only the keys of
        the servers in keep, and every watch ended (the members restarted)."""
        with self.lock:
            self.rev = rev
            self.kvs = {k: v for k, v in self.kvs.items() if k[len(PREFIX):].decode() in keep}
            self.events = [(r, ev) for r, ev in self.events if r <= rev]
        self.end_watches()

    def set_junk(self, n):
        keys = sorted(PREFIX + b"junk/%08d" % x for x in range(n))
        self.junk_json = ['{"key":"%s","value":"eA==","create_revision":"2","mod_revision":"2",'
                          '"version":"1"}' % b64(k) for k in keys]
        self.junk = keys

    def n(self, path):
        with self.lock:
            return self.count.get(path, 0)

    def close(self):
        self.noline = False
        self.end_watches()
        self.httpd.shutdown()
        self.httpd.server_close()


daemons, fakes = [], []


def start(name, sid, endpoints):
    d = Daemon("discoveryd", os.path.join(root, name), sid, free_port(),
               extra={"discovery.backend": "etcd", "discovery.etcd_endpoints": endpoints,
                      "discovery.heartbeat_interval": str(INTERVAL),
                      "discovery.heartbeat_timeout": str(TIMEOUT),
                      "discovery.evict_after": "3600"})
    daemons.append(d)
    d.start()
    return d


def fake_etcd(**kw):
    f = FakeEtcd(**kw)
    fakes.append(f)
    return f


def listing(d):
    r = d.get("/api/discovery/servers", timeout=30)
    return {s["server_id"]: (s["status"], s.get("heartbeat_age_seconds")) for s in r.json()["servers"]}


def status(d, i):
    return listing(d).get(i, (None, None))[0]


def synced(d, f, *peers):
    """Every peer online in d's list and a watch open on f."""
    return wait_until(lambda: all(status(d, p) == "online" for p in peers) and f.watchers, 5)


def served(f, path, before, timeout=5):
    return wait_until(lambda: f.n(path) > before, timeout, 0.01)


# The old code stalled /health 2.3 s (a big range) and 1.0 s (a watch without
# newlines); a loaded machine or the sanitizers' build add tens of ms to any answer.
STALL = 0.5


def worst(probe, t0, t1):
    lat = probe.since(t0, t1)
    return max((x[0] for x in lat), default=None), len(lat)


try:
    # ---- A range whose "kvs" is not an array, one value that does not decode, this
    # server's key deleted, a delete of a peer already offline, a listing at revision 0.
    f = fake_etcd()
    f.put_server("peer-1")
    f.put_server("peer-2")
    d = start("a", "srv-a", f.url)
    t.ok(synced(d, f, "peer-1", "peer-2"), "peers learned from the fake etcd", listing(d))

    for kvs in ("garbage", {}, 5, None):
        # Long enough that only the watch keeps the peers online: the old code took such
        # a listing as empty, and a peer reported less than heartbeat_timeout ago would
        # have gone offline only later.
        time.sleep(TIMEOUT + 0.2)
        f.override["/v3/kv/range"] = lambda req, kvs=kvs: (200, {"header": f.header(), "kvs": kvs})
        n0 = f.n("/v3/kv/range")
        f.compact()
        got = served(f, "/v3/kv/range", n0)
        time.sleep(0.2)
        l = listing(d)
        t.ok(got and all(l.get(p, ("?",))[0] != "offline" and l[p][1] < TIMEOUT for p in ("peer-1", "peer-2")),
             "a range whose kvs is %s changes no peer" % json.dumps(kvs), l)
        del f.override["/v3/kv/range"]
        t.ok(synced(d, f, "peer-1", "peer-2"), "and a good range afterwards is taken", listing(d))

    key1 = b64(PREFIX + b"peer-1")

    def one_bad(req):
        with f.lock:
            kvs = [dict(f.kvs[k]) for k in sorted(f.kvs)]
            for kv in kvs:
                if kv["key"] == key1:
                    kv["value"] = "!!notb64"
            return 200, {"header": f.header(), "kvs": kvs}
    f.override["/v3/kv/range"] = one_bad
    n0 = f.n("/v3/kv/range")
    f.compact()
    got = served(f, "/v3/kv/range", n0)
    time.sleep(0.2)
    l0 = listing(d)
    time.sleep(TIMEOUT + 0.5)
    l1 = listing(d)
    t.ok(got and l0.get("peer-1", ("?",))[0] != "offline" and l1.get("peer-1", ("?",))[0] == "online"
         and l1.get("peer-2", ("?",))[0] == "online",
         "a listing whose value for peer-1 does not decode keeps peer-1 as it was (online)", (l0, l1))
    del f.override["/v3/kv/range"]

    puts = f.n("/v3/kv/put")
    f.delete("srv-a")
    t.ok(wait_until(lambda: f.n("/v3/kv/put") > puts and PREFIX + b"srv-a" in f.kvs, 3),
         "this server's key deleted in etcd: it is written again", d.log_tail(5))

    f.delete("peer-2")
    t.ok(wait_until(lambda: status(d, "peer-2") == "offline", 2), "a peer's key deleted: offline at once")
    f.delete("peer-2")
    time.sleep(0.5)
    with open(d.log_path, errors="replace") as lf:
        left = lf.read().count("server peer-2 left etcd")
    t.eq(left, 1, "a second delete of a peer already offline is not logged again")

    f.override["/v3/kv/range"] = lambda req: (200, {"header": {"revision": "0"}})
    n0 = f.n("/v3/kv/range")
    f.compact()
    time.sleep(3)
    n = f.n("/v3/kv/range") - n0
    t.ok(n <= 10, "a listing at revision 0 is refused: %d range requests in 3 s (limit 10)" % n)
    del f.override["/v3/kv/range"]
    t.ok(wait_until(lambda: status(d, "peer-1") == "online" and f.watchers, 10),
         "and discoveryd recovers when etcd answers properly", listing(d))

    # ---- A large registry: read in pages at one revision, /health keeps answering.
    f = fake_etcd()
    f.put_server("peer-1")
    d = start("b", "srv-b", f.url)
    t.ok(synced(d, f, "peer-1"), "a second discoveryd synced")
    JUNK = 250000
    f.set_junk(JUNK)
    probe = HealthProbe(d)
    time.sleep(0.5)
    f.asked["/v3/kv/range"] = []
    w0 = f.n("/v3/watch")
    t0 = time.monotonic()
    f.compact()
    done = wait_until(lambda: f.n("/v3/watch") > w0, 40, 0.05)
    time.sleep(0.3)
    t1 = time.monotonic()
    w, nlat = worst(probe, t0, t1)
    pages = list(f.asked["/v3/kv/range"])
    t.ok(done and w is not None and w < STALL and nlat > 10,
         "/health answers within %d ms while a registry of %d keys is read (worst %s ms of %d, %.1f s)"
         % (STALL * 1000, JUNK, None if w is None else round(w * 1000), nlat, t1 - t0))
    t.ok(len(pages) > JUNK // 1000 and all(int(p.get("limit") or 0) == 500 for p in pages)
         and all(p.get("revision") == pages[1].get("revision") for p in pages[1:])
         and "revision" not in pages[0],
         "the range is read in pages of 500, every one after the first at one revision (%d pages)"
         % len(pages), [{k: v for k, v in p.items() if k != "range_end"} for p in pages[:3]])
    t.ok(status(d, "peer-1") == "online", "and the peer is still listed online", listing(d))
    f.junk, f.junk_json = [], []

    # A watch that sends bytes and never a newline.
    f.noline = True
    t0 = time.monotonic()
    f.end_watches()
    time.sleep(4)
    t1 = time.monotonic()
    f.noline = False
    w, nlat = worst(probe, t0, t1)
    probe.stop()
    t.ok(w is not None and w < STALL and nlat > 10,
         "/health answers within %d ms while watches stream bytes without a newline (worst %s ms of %d)"
         % (STALL * 1000, None if w is None else round(w * 1000), nlat))
    with open(d.log_path, errors="replace") as lf:
        t.ok("longer than 4 MiB" in lf.read(), "and such a watch is logged as garbage and ended")
    f.end_watches()
    t.ok(wait_until(lambda: status(d, "peer-1") == "online" and f.watchers, 10),
         "and discoveryd watches again when the stream behaves", listing(d))

    # ---- One endpoint answering HTML: the next one is used.
    liar = fake_etcd(html=True)
    good = fake_etcd()
    good.put_server("peer-h")
    t0 = time.time()
    d = start("c", "srv-c", "%s, %s" % (liar.url, good.url))
    ok = wait_until(lambda: status(d, "peer-h") == "online", 8)
    t.ok(ok, "a first endpoint answering 200 text/html fails over to the second: peer learned in %.1f s"
         % (time.time() - t0), d.log_tail(8))
    t.ok(PREFIX + b"srv-c" in good.kvs, "and this server's entry is written there")

    # ---- etcd's revision goes back (restored from a backup).
    f = fake_etcd()
    f.put_server("peer-1")
    d = start("d", "srv-d", f.url)
    t.ok(synced(d, f, "peer-1"), "a discoveryd synced before the restore")
    for x in range(20):
        f.put_server("churn-%d" % (x % 3))
    wait_until(lambda: f.watchers and all(status(d, "churn-%d" % x) == "online" for x in range(3)), 5)
    old_rev = f.rev
    n0 = f.n("/v3/kv/range")
    # The copy holds this server's entry as it was once (its lease too, so the
    # keep-alives go on): peers read the old one until its ServerInfo changed again.
    current = f.kvs[PREFIX + b"srv-d"]["value"]
    stale = dict(json.loads(base64.b64decode(current)), port=1, tank_count=99)
    with f.lock:
        f.kvs[PREFIX + b"srv-d"] = dict(f.kvs[PREFIX + b"srv-d"], value=b64(json.dumps(stale)))
    f.restore(12, {"peer-1", "srv-d"})
    t.ok(served(f, "/v3/kv/range", n0, 5),
         "etcd's revision gone back from %d to 12: the registry is read again" % old_rev, d.log_tail(6))
    t.ok(wait_until(lambda: f.kvs[PREFIX + b"srv-d"]["value"] == current, 5),
         "and this server's entry, older in the copy, is written again as it is",
         (base64.b64decode(f.kvs[PREFIX + b"srv-d"]["value"]), d.log_tail(4)))
    f.put_server("late")
    t.ok(wait_until(lambda: status(d, "late") == "online", 5),
         "and a server registered after the restore is learned", listing(d))
    # One event claims a revision near INT64_MAX; the watch that follows must not start there.
    with f.lock:
        bogus = {"kv": {"key": b64(PREFIX + b"peer-1"), "value": b64(json.dumps(info("peer-1"))),
                        "mod_revision": "9223372036854775806"}}
        msg = {"result": {"header": f.header(), "events": [bogus]}}
    f.push(msg)
    time.sleep(0.3)
    f.asked["/v3/watch"] = []
    f.end_watches()
    wait_until(lambda: f.asked["/v3/watch"], 5)
    starts = [int(x.get("create_request", {}).get("start_revision", 0)) for x in f.asked["/v3/watch"]]
    t.ok(starts and all(s <= f.rev + 1 for s in starts),
         "an event's mod_revision above its message's revision is not taken (watch from %s, etcd at %d)"
         % (starts, f.rev))

    # ---- The range and the watch fail, keep-alives succeed: nothing confirms the peers.
    f = fake_etcd()
    f.put_server("peer-1")
    d = start("e", "srv-e", f.url)
    t.ok(synced(d, f, "peer-1"), "a discoveryd synced before the range and the watch fail")
    f.override["/v3/kv/range"] = f.override["/v3/watch"] = lambda req: (500, {"error": "boom"})
    ka = f.n("/v3/lease/keepalive")
    t0 = time.time()
    f.compact()
    off = wait_until(lambda: status(d, "peer-1") == "offline", TIMEOUT + 2)
    t.ok(off, "with range and watch answering 500 and keep-alives 200, the peer is offline %.1f s later "
         "(limit %.1f s)" % (time.time() - t0, TIMEOUT + 2), listing(d))
    t.ok(f.n("/v3/lease/keepalive") > ka, "while keep-alives went on succeeding")
    f.override.clear()
    t.ok(wait_until(lambda: status(d, "peer-1") == "online", 10), "and online again when etcd answers")

    # ---- New endpoints on reload: compared with themselves, they were never used, and
    # a change of backend was never refused (an operator's audit).
    f1, f2 = fake_etcd(), fake_etcd()
    d = Daemon("discoveryd", os.path.join(root, "r"), "srv-r", free_port(),
               extra={"discovery.heartbeat_interval": str(INTERVAL),
                      "discovery.heartbeat_timeout": str(TIMEOUT)})
    with open(d.conf, "a") as conf:  # in the file, which a reload reads (--set would win)
        conf.write("[discovery]\nbackend = etcd\netcd_endpoints = %s\n" % f1.url)
    daemons.append(d)
    d.start()
    t.ok(wait_until(lambda: PREFIX + b"srv-r" in f1.kvs, 5), "a discoveryd registered in one etcd")
    text = open(d.conf).read()
    with open(d.conf, "w") as conf:
        conf.write(text.replace(f1.url, f2.url))
    d.signal(signal.SIGHUP)
    t.ok(wait_until(lambda: PREFIX + b"srv-r" in f2.kvs, 5),
         "etcd_endpoints changed on reload: it registers in the new etcd", d.log_tail(5))
    with open(d.conf, "w") as conf:
        conf.write(text.replace("backend = etcd", "backend = hub"))
    d.signal(signal.SIGHUP)
    t.ok(wait_until(lambda: "backend cannot change on reload" in d.log_tail(10), 5) and
         d.get("/health").json().get("role") == "etcd",
         "a new backend on reload is refused, the running one kept", d.log_tail(5))

    # ---- A new heartbeat_interval on reload: the keep-alives went on at the old one
    # until a restart. The interval is in the file here, as a reload reads it.
    f3 = fake_etcd()
    d = Daemon("discoveryd", os.path.join(root, "i"), "srv-i", free_port())
    with open(d.conf, "a") as conf:
        conf.write("[discovery]\nbackend = etcd\netcd_endpoints = %s\n"
                   "heartbeat_interval = 2\nheartbeat_timeout = 8\n" % f3.url)
    daemons.append(d)
    d.start()
    t.ok(wait_until(lambda: PREFIX + b"srv-i" in f3.kvs, 5), "a discoveryd kept alive every 2 s registered")
    text = open(d.conf).read()
    with open(d.conf, "w") as conf:
        conf.write(text.replace("heartbeat_interval = 2", "heartbeat_interval = 0.25"))
    d.signal(signal.SIGHUP)
    t.ok(wait_until(lambda: "configuration reloaded" in d.log_tail(10), 5), "heartbeat_interval = 0.25: reloaded")
    ka = f3.n("/v3/lease/keepalive")
    time.sleep(2.5)
    ka = f3.n("/v3/lease/keepalive") - ka
    t.ok(ka >= 5, "and it keeps its lease alive at the new interval (%d keep-alives in 2.5 s, "
         "at most 2 at the old one)" % ka)
    # A longer interval kept the lease granted with the old timeout alive too rarely: it
    # expired, and etcd deleted the entry for a while (a review: 22 s offline after 1 s /
    # 3 s became 8 s / 30 s). A new lease, of the new timeout, at once.
    grants = len(f3.asked.get("/v3/lease/grant", []))
    with open(d.conf, "w") as conf:
        conf.write(text.replace("heartbeat_interval = 2", "heartbeat_interval = 3")
                   .replace("heartbeat_timeout = 8", "heartbeat_timeout = 20"))
    d.signal(signal.SIGHUP)
    new_ttl = lambda: [g.get("TTL") for g in f3.asked.get("/v3/lease/grant", [])[grants:]]
    t.ok(wait_until(lambda: 20 in new_ttl(), 5),
         "3 s / 20 s on reload: a new lease of the new TTL at once", new_ttl())

    for x in daemons:
        t.eq(x.stop(), 0, "%s exits 0 on SIGTERM" % x.server_id)
finally:
    if t.failed:
        for x in daemons:
            t.diag("--- %s\n%s" % (x.server_id, x.log_tail(25)))
    for x in daemons:
        if x.alive():
            x.kill9()
    for x in fakes:
        try:
            x.close()
        except Exception:
            pass
    shutil.rmtree(root, ignore_errors=True)
t.done()
