#!/usr/bin/env python3
"""A full listener under clients that keep asking. Each daemon runs with a small
connection limit; clients from three loopback addresses hold twice as many keep-alive
connections as it allows and send a request on each every few milliseconds, opening a
new one whenever theirs is closed. At the limit every new connection makes the daemon
evict an idle one or close the new one, while requests are being handed to handlers:
the check once freed the connection (and the request) a handler was about to read, and
all three daemons crashed (an audit, through ASan: heap-use-after-free in
request_sane). Afterwards each daemon is still the same process, answers /health, and
counted its evictions; every answer the clients got was a whole HTTP 200. Then simd
holds 240 unfinished 1 MiB bodies, and gives the memory back once they close; and
discoveryd, whose clients ask for a 20,000-server list and never read it, refuses the
list with 503 busy past max_unsent_mb instead of holding an answer for each."""
import json
import os
import socket
import subprocess
import sys
import time

from twlib import Daemon, Tap, base_ports, jerr, metric_sum, tmpdir, wait_until

t = Tap()
root = tmpdir("twbl")
LIMIT = 16
SOURCES = ["127.0.0.%d" % i for i in (2, 3, 4)]

CLIENT = r"""
import random, selectors, socket, sys, time
port, n, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
sources = sys.argv[4].split(",")
sel = selectors.DefaultSelector()
def open_one(i):
    s = socket.socket()
    s.bind((sources[i % len(sources)], 0))
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    sel.register(s, selectors.EVENT_READ, [i, time.time() + random.random() * 0.02, b""])
for i in range(n):
    open_one(i)
t0 = time.time(); sent = answers = bad = reopened = 0
later = []  # (when, i): a closed connection is opened again 50 ms later
while time.time() - t0 < secs:
    now = time.time()
    for key, _ in sel.select(0.005):
        try:
            b = key.fileobj.recv(65536)
        except OSError:
            b = b""
        if b:
            key.data[2] += b
            while b"\r\n\r\n" in key.data[2]:
                head, _, rest = key.data[2].partition(b"\r\n\r\n")
                length = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
                if not length or len(rest) < length[0]:
                    break
                answers += 1
                bad += not head.startswith(b"HTTP/1.1 200")
                key.data[2] = rest[length[0]:]
            continue
        sel.unregister(key.fileobj)
        key.fileobj.close()
        later.append((now + 0.05, key.data[0]))
    while later and later[0][0] <= now:
        open_one(later.pop(0)[1])
        reopened += 1
    for key in list(sel.get_map().values()):
        if key.data[1] < now:
            key.data[1] = now + 0.02
            try:
                key.fileobj.send(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                sent += 1
            except OSError:
                pass
print(sent, answers, bad, reopened, flush=True)
"""


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        return next(int(x.split()[1]) // 1024 for x in f if x.startswith("VmRSS"))


def bodies(d, pid):
    """Large bodies that never finish, from many connections: simd holds what they sent
    while they are open; once they are closed the memory goes back to the system (it
    stayed in malloc's arenas: 250 MB of 600 such connections, an audit)."""
    before = rss_mb(pid)
    # Each just under simd's body limit (256 KiB): 240 of them, 60 MB.
    socks, chunk = [], b"x" * ((256 << 10) - 1024)
    for i in range(240):
        s = socket.socket()
        s.bind((SOURCES[i % len(SOURCES)], 0))
        s.connect(("127.0.0.1", d.port))
        s.sendall(b"POST /api/tanks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % (len(chunk) + 1))
        s.settimeout(5)
        try:
            s.sendall(chunk)
        except OSError:
            pass
        socks.append(s)
    # What the kernel still buffers reaches simd over the next moments.
    held = wait_until(lambda: rss_mb(pid) > before + 40 and rss_mb(pid), 15) or rss_mb(pid)
    for s in socks:
        s.close()
    if os.environ.get("TW_SANITIZERS") == "yes":
        # ASan's allocator keeps freed memory in its quarantine whatever malloc_trim says.
        t.ok(d.alive(), "simd held %d MB of unfinished bodies and lives (ASan: memory not measured)" % held)
        return
    back = wait_until(lambda: rss_mb(pid) < before + 16 and rss_mb(pid), 15)
    t.ok(held > before + 40 and back, "simd held %d MB of unfinished bodies (from %d MB) and gives it "
         "back once they close (%s MB)" % (held, before, back or rss_mb(pid)))


def unread_answers():
    """discoveryd with 20,000 servers (a journal written before it starts) and
    max_unsent_mb = 4: clients that ask for the whole list and never read would each
    have it hold an 8 MB answer; past 4 MB of unread answers it says 503 busy instead,
    small answers still go, and once the readers are gone the list is served again."""
    d = Daemon("discoveryd", os.path.join(root, "unread"), "bl-unread", base_ports(1)[0],
               extra={"server.max_unsent_mb": "4", "discovery.max_servers": "30000"})
    daemons.append(d)
    os.makedirs(os.path.join(d.state_dir, "discovery"), exist_ok=True)
    now = time.time()
    with open(os.path.join(d.state_dir, "discovery", "registry.journal"), "w") as f:
        for i in range(20000):
            f.write(json.dumps({"server_id": "srv-%05d" % i, "host": "198.18.%d.%d" % (i // 250, i % 250 + 1),
                                "port": 8001, "hostname": "host-%05d.example" % i,
                                "last_heartbeat": now, "status": "online", "rev": i + 1}) + "\n")
    d.start()
    t.eq(len(d.get("/api/discovery/servers", tcp=True, timeout=30).json()["servers"]), 20001,
         "discoveryd lists 20,001 servers")
    idle = []
    for i in range(8):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", d.port))
        s.sendall(b"GET /api/discovery/servers HTTP/1.1\r\nHost: x\r\n\r\n")
        idle.append(s)
    busy = wait_until(lambda: d.get("/api/discovery/servers", tcp=True, timeout=30).status == 503, 20)
    r = d.get("/api/discovery/servers", tcp=True, timeout=30)
    t.ok(busy and jerr(r, 503, "busy") and r.headers.get("Retry-After") == "1",
         "with answers unread by 8 clients, the whole list is a 503 busy with Retry-After", r)
    t.eq(d.get("/health", tcp=True).status, 200, "and /health still answers")
    t.ok(metric_sum(d, "tankworld_http_busy_total") >= 1, "the refusals are counted in /metrics")
    for s in idle:
        s.close()
    t.ok(wait_until(lambda: d.get("/api/discovery/servers", tcp=True, timeout=30).status == 200, 20),
         "once those clients are gone the list is served again")
    t.eq(d.stop(), 0, "discoveryd exits 0")


def per_address_order():
    """Five connections at once from an address allowed three: the first three are
    served, the last two closed ("any further connection closed at once"). The batch of
    new connections was checked from its end, and the second and third were closed."""
    d = Daemon("discoveryd", os.path.join(root, "order"), "bl-order", base_ports(1)[0],
               extra={"server.max_connections_per_address": "3"})
    daemons.append(d)
    d.start()
    served = []
    for attempt in range(3):
        socks = [socket.create_connection(("127.0.0.1", d.port)) for _ in range(5)]
        time.sleep(0.3)
        got = []
        for s in socks:
            s.settimeout(5)
            try:
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                got.append(s.recv(64).startswith(b"HTTP/1.1 200"))
            except OSError:
                got.append(False)
            s.close()
        served.append(got)
        time.sleep(0.3)
    t.ok(all(g == [True, True, True, False, False] for g in served),
         "five connections at once from an address allowed three: the first three served, "
         "the last two closed", served)
    t.eq(d.stop(), 0, "discoveryd exits 0")


daemons = []
try:
    for name, port in zip(("discoveryd", "simd", "migrated"), base_ports(3)):
        d = Daemon(name, os.path.join(root, name), "bl-" + name, port,
                   extra={"server.max_connections": str(LIMIT)})
        daemons.append(d)
        d.start()
        pid = d.proc.pid
        out = subprocess.run(
            [sys.executable, "-c", CLIENT, str(d.port), str(2 * LIMIT * len(SOURCES)), "6",
             ",".join(SOURCES)], capture_output=True, text=True, timeout=60).stdout.split()
        sent, answers, bad, reopened = (int(x) for x in out) if len(out) == 4 else (0, 0, -1, 0)
        alive = d.proc.poll() is None and d.proc.pid == pid
        t.ok(alive, "%s survives %d requests on %d connections over its limit of %d (%d reopened)"
             % (name, sent, 2 * LIMIT * len(SOURCES), LIMIT, reopened), d.log_tail(20) if not alive else "")
        if not alive:
            continue
        t.ok(answers > 100 and bad == 0, "%s: %d answers, each a whole 200" % (name, answers), bad)
        t.ok(wait_until(lambda: d.get("/health", tcp=True, timeout=2).status == 200, 15),
             "%s answers /health on TCP afterwards" % name)
        ev = metric_sum(d, "tankworld_http_connections_evicted_total")
        t.ok(ev > 0, "%s evicted idle connections at the limit (%s)" % (name, ev))
        t.eq(d.stop(), 0, "%s exits 0" % name)
    d = Daemon("simd", os.path.join(root, "bodies"), "bl-bodies", base_ports(1)[0])
    daemons.append(d)
    d.start()
    bodies(d, d.proc.pid)
    t.eq(d.stop(), 0, "simd exits 0")
    unread_answers()
    per_address_order()
finally:
    for d in daemons:
        if d.alive():
            d.kill9()
t.done()
