#!/usr/bin/env python3
"""A connection flood against simd (issue 9, item 9). simd runs with its descriptor
limit lowered to 1024, so that without connection limits a few thousand idle
connections use every descriptor (then a snapshot write fails with EMFILE and simd
stops). One client process opens and holds 20,000 TCP connections from sixteen loopback
addresses, some of them dripping header bytes (slowloris). Meanwhile:
- /health answers on TCP and on the Unix socket, within 50 ms for 90 % of the probes
  (never above 3.5 s: a SYN the kernel drops from a full accept queue is resent);
- simd keeps writing snapshots, and never holds more descriptors than its limit;
- at the total limit the busiest address's oldest idle connections are evicted, and
  beyond the per-address limit new connections are closed at once; both are counted
  in /metrics;
- a dripping connection and a body shorter than its Content-Length are closed at the
  request timeout, however the bytes trickle, with a JSON 408."""
import os
import socket
import subprocess
import sys
import time

from twlib import Daemon, Tap, base_ports, tmpdir, wait_until

t = Tap()
root = tmpdir("twfl")
port = base_ports(1)[0]
NOFILE = 1024
N = int(os.environ.get("FLOOD_CONNECTIONS", "20000"))
SOURCES = ["127.0.0.%d" % i for i in range(2, 18)]
REQUEST_TIMEOUT = 2.0
d = Daemon("simd", root, "flood", port,
           extra={"sim.snapshot_interval": "0.3", "server.request_timeout": str(REQUEST_TIMEOUT),
                  "server.idle_timeout": "4", "server.max_connections_per_address": "50"})
d.cmd_prefix = ["prlimit", "--nofile=%d:%d" % (NOFILE, NOFILE)]

FLOOD = r"""
import resource, socket, sys, time, select
port, n, drip = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
sources = sys.argv[4].split(",")
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = n + 200
try:
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(want, soft), max(want, hard)))
except (ValueError, OSError):
    n = min(n, hard - 200)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
socks = []
for i in range(n):
    s = socket.socket()
    s.setblocking(False)
    s.bind((sources[i % len(sources)], 0))
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    socks.append(s)
print("opened %d" % len(socks), flush=True)
# Hold them all; the first `drip` send a request line, then a header byte every 0.3 s.
for s in socks[:drip]:
    try:
        s.send(b"GET /health HTTP/1.1\r\nX-Slow: ")
    except OSError:
        pass
while True:
    r, _, _ = select.select([sys.stdin], [], [], 0.3)
    if r:
        break
    for s in socks[:drip]:
        try:
            s.send(b"a")
        except OSError:
            pass
print("released", flush=True)
"""


def metric(name):
    body = d.get("/metrics").body
    for line in body.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.split()[-1])
    return None


def probe(tcp):
    t0 = time.monotonic()
    try:
        r = d.get("/health", tcp=tcp, timeout=5)
        ok = r.status == 200
    except OSError:
        ok = False
    return ok, time.monotonic() - t0


def fds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return -1


flood = None
floods = []
finished = False
try:
    d.start()
    pid = d.proc.pid
    tank = d.get("/api/tanks").json()["default_tank_id"]
    t.ok(tank is not None, "the default tank runs")
    lim = metric('tankworld_http_connection_limit{listener="tcp"}')
    t.ok(lim is not None and lim < NOFILE, "the TCP connection limit (%s) is below the descriptor limit" % lim)
    snaps0 = metric("tankworld_sim_snapshots_total")
    # A listen queue of 128 loses part of a burst for good: past it the kernel answers
    # with syncookies and drops the client's ACK, and the client believes it connected.
    ss = subprocess.run(["ss", "-Hltn", "sport = :%d" % d.port], capture_output=True, text=True)
    backlog = int(ss.stdout.split()[2]) if ss.stdout.split()[2:] else None
    somaxconn = int(open("/proc/sys/net/core/somaxconn").read())
    t.eq(backlog, min(somaxconn, 4096), "the TCP listener's backlog is the kernel's maximum")

    # Two processes of the one client: a process may hold 20,000 descriptors here.
    floods = [subprocess.Popen([sys.executable, "-c", FLOOD, str(d.port), str(N // 2), "150",
                                ",".join(SOURCES)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
              for _ in range(2)]
    flood = floods[0]
    opened = 0
    for f in floods:
        line = f.stdout.readline().strip()
        t.diag("flood client: %s" % line)
        opened += int(line.split()[1]) if line.startswith("opened") else 0
    t.ok(opened >= N, "the client opened and holds %d connections" % opened)

    # A slow request of our own from 127.0.0.1, and a body shorter than announced.
    slow = socket.create_connection(("127.0.0.1", d.port))
    slow.sendall(b"GET /health HTTP/1.1\r\nX-Drip: ")
    short = socket.create_connection(("127.0.0.1", d.port))
    short.sendall(b"POST /api/tanks HTTP/1.1\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1000\r\n\r\n{\"name\":")
    t_slow = time.monotonic()
    slow.settimeout(0.05)
    short.setblocking(False)
    slow_answer = short_answer = b""
    short_at = None
    lat = {True: [], False: []}
    max_fds = 0
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        for tcp in (True, False):
            lat[tcp].append(probe(tcp))
        max_fds = max(max_fds, fds(pid))
        try:
            slow.send(b"a")  # one byte every probe round: the deadline must not move
            chunk = slow.recv(4096)
            if chunk:
                slow_answer += chunk
        except OSError:
            pass
        try:
            chunk = short.recv(4096)
            if chunk and short_at is None:
                short_at = time.monotonic() - t_slow
            short_answer += chunk
        except OSError:
            pass
        time.sleep(0.1)
    t.ok(d.alive(), "simd survived the flood")
    for tcp in (True, False):
        where = "TCP" if tcp else "the Unix socket"
        oks = [ok for ok, _ in lat[tcp]]
        times = sorted(dt for _, dt in lat[tcp])
        p90 = times[int(len(times) * 0.9) - 1] if times else 99
        t.diag("/health on %s: %d probes, median %.1f ms, p90 %.1f ms, max %.1f ms"
               % (where, len(times), 1e3 * times[len(times) // 2], 1e3 * p90, 1e3 * times[-1]))
        t.ok(all(oks), "/health on %s answered every probe during the flood" % where,
             [dt for ok, dt in lat[tcp] if not ok])
        # The margin on the maximum is the kernel's: a SYN dropped from a full accept
        # queue is sent again after 1 s, then 2 s (seen with the sanitizer build).
        t.ok(p90 <= 0.050 and times[-1] <= 3.5, "/health on %s within 50 ms (p90 %.1f ms, max %.0f ms)"
             % (where, 1e3 * p90, 1e3 * times[-1]))
    t.ok(0 < max_fds <= NOFILE, "simd never held more than its %d descriptors (%d)" % (NOFILE, max_fds))
    snaps1 = metric("tankworld_sim_snapshots_total")
    t.ok(snaps1 is not None and snaps0 is not None and snaps1 >= snaps0 + 5,
         "snapshots kept being written (%s -> %s)" % (snaps0, snaps1))
    refused = metric("tankworld_http_connections_refused_total")
    evicted = metric("tankworld_http_connections_evicted_total")
    held = metric("tankworld_http_connections")
    t.diag("refused %s, evicted %s, held %s, timed out %s"
           % (refused, evicted, held, metric("tankworld_http_connections_timed_out_total")))
    t.ok(evicted and evicted > 500, "at the total limit the oldest idle ones are evicted and counted (%s)" % evicted)
    t.ok(held is not None and held <= lim + 1, "connections held stay within the limit (%s <= %s)" % (held, lim))

    # The dripping connection was answered 408 and closed at the request timeout.
    slow.settimeout(5)
    try:
        while True:
            chunk = slow.recv(4096)
            if not chunk:
                break
            slow_answer += chunk
    except OSError:
        pass
    t.ok(b" 408 " in slow_answer.split(b"\r\n")[0] and b'"code":"request_timeout"' in slow_answer,
         "a request dripping one byte at a time gets a JSON 408", slow_answer[:300])
    t.ok(b" 408 " in short_answer.split(b"\r\n")[0] and short_at is not None and
         short_at < REQUEST_TIMEOUT + 3,
         "a body shorter than its Content-Length fails at the request timeout (%s s)" % short_at,
         short_answer[:300])
    t.ok(d.get("/api/tanks").json()["count"] == 1, "the half-sent POST created nothing")

    for f in floods:
        f.stdin.write("stop\n")
        f.stdin.flush()
        f.stdout.readline()
        f.kill()
        f.wait()
    floods = []
    flood = None
    t.ok(wait_until(lambda: metric("tankworld_http_connections") <= 2, 20),
         "the flood's connections are gone once it stops", metric("tankworld_http_connections"))

    # One address alone: beyond its limit (50) every new connection is closed at once.
    held0 = metric("tankworld_http_connections")
    refused0 = metric("tankworld_http_connections_refused_total")
    one = []
    for i in range(300):
        c = socket.socket()
        c.setblocking(False)
        c.bind(("127.0.0.99", 0))
        try:
            c.connect(("127.0.0.1", d.port))
        except BlockingIOError:
            pass
        one.append(c)
    wait_until(lambda: metric("tankworld_http_connections_refused_total") - refused0 >= 250, 20)
    refused = metric("tankworld_http_connections_refused_total") - refused0
    held = metric("tankworld_http_connections") - held0
    t.diag("one address: %s refused, %s more connections held" % (refused, held))
    # (at least 200: a few SYNs may still be queued behind the flood's last ones)
    t.ok(refused >= 200, "one address beyond its limit (50): %s of 300 refused and counted" % refused)
    closed = 0
    for c in one:
        try:
            c.setblocking(True)
            c.settimeout(0.01)
            if c.recv(10) == b"":
                closed += 1
        except OSError:
            pass
        c.close()
    t.ok(closed >= 200, "the refused connections were closed at once (%d of 300 saw EOF)" % closed)

    # The second request of a keep-alive connection has the same request timeout, from
    # its first byte: it used to drip for the whole idle timeout and be closed unanswered.
    ka = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    ka.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    first = ka.recv(4096)
    began = time.time()
    second = b""
    for ch in b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"y" * 100:
        try:
            ka.sendall(bytes([ch]))
        except OSError:
            break
        ka.settimeout(0.2)
        try:
            got = ka.recv(4096)
        except socket.timeout:
            continue
        except OSError:
            break
        second += got
        if not got or b"\r\n\r\n" in second:
            break
    took = time.time() - began
    ka.close()
    t.ok(b" 200 " in first.split(b"\r\n")[0] and b" 408 " in second.split(b"\r\n")[0]
         and b'"code":"request_timeout"' in second and took < REQUEST_TIMEOUT + 1.5,
         "a keep-alive connection's second request, dripped, gets its JSON 408 at the request "
         "timeout (%.1f s; the idle timeout is 4 s)" % took, second[:200])
    t.eq(d.stop(), 0, "simd exits 0")
    finished = True
finally:
    for f in floods:
        f.kill()
        f.wait()
    if d.alive():
        d.kill9()
    if t.failed or not finished:
        t.diag(d.log_tail(30))
    import shutil
    shutil.rmtree(root, ignore_errors=True)
t.done()
