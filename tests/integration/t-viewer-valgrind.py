#!/usr/bin/env python3
"""The viewer's code paths in simd under valgrind: 1,000 stream clients connecting and
vanishing (some read, some never do, some are dropped by a tank deletion), the web app's
files, the controls and the relay; then SIGTERM. valgrind must report no errors and no
definite leaks, and the descriptor count must come back to where it was. Skipped in the
sanitizer build (t-viewer-api covers it there, under LeakSanitizer)."""
import os
import random
import shutil
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import twlib  # noqa: E402
from twlib import VALGRIND, Daemon, Tap, base_ports, request, tmpdir, valgrind_or_skip, wait_until  # noqa: E402

valgrind_or_skip()

seed = int(os.environ.get("SEED", random.randrange(1 << 30)))
random.seed(seed)
t = Tap()
t.diag("seed %d" % seed)
root = tmpdir("twvv")
(p1,) = base_ports(1)
extra = {"sim.tick_rate": "10", "discovery.heartbeat_interval": "1"}
disc = Daemon("discoveryd", root, "vv", p1, extra=extra)
sim = Daemon("simd", root, "vv", p1, extra=extra)


def clients():
    for line in sim.get("/metrics", timeout=30).body.splitlines():
        if line.startswith("tankworld_sim_stream_clients "):
            return int(float(line.split()[1]))
    return -1


try:
    disc.start()
    sim.start(wrapper=VALGRIND)
    tank = sim.get("/api/tanks", timeout=30).json()["default_tank_id"]
    for path in ("/", "/static/app.js", "/static/../x", "/api/discovery/servers", "/api/transfers"):
        request("GET", url=sim.url, path=path, timeout=30)
    sim.post("/api/tanks/%s/food" % tank, {"count": 5}, timeout=30)
    sim.post("/api/tanks/%s/fish" % tank, {}, timeout=30)
    sim.post("/api/tanks/%s/fish" % tank, raw="{bad", timeout=30)
    base, base_socks = twlib.fd_baseline(sim.proc.pid)
    n = 0
    for batch in range(20):
        socks = []
        for _ in range(50):
            s = socket.create_connection(("127.0.0.1", sim.port), timeout=30)
            s.sendall(("GET /api/tanks/%s/stream?fps=%d HTTP/1.1\r\nHost: x\r\n\r\n"
                       % (tank, random.randint(1, 30))).encode())
            socks.append(s)
            n += 1
        if batch % 3 == 0:
            time.sleep(0.3)
            for s in socks[:25]:
                s.recv(4096)
        for s in socks:
            s.close()
    t.eq(n, 1000, "1,000 clients connected and vanished")
    t.ok(wait_until(lambda: clients() == 0, 60, 0.5), "no stream is left")
    pid = sim.proc.pid
    t.ok(wait_until(lambda: twlib.fd_count(pid, "socket:") <= base_socks, 60, 0.5), "no socket is left",
         "%d then %d" % (base_socks, twlib.fd_count(pid, "socket:")))
    t.ok(wait_until(lambda: twlib.fd_count(pid) <= base, 60, 0.5), "no descriptor is left",
         "%d then %d" % (base, twlib.fd_count(pid)))
    # Clients of a tank that is deleted under them.
    other = sim.post("/api/tanks", {"name": "gone", "initial_fish": 3}, timeout=30).json()["tank"]["tank_id"]
    socks = [socket.create_connection(("127.0.0.1", sim.port), timeout=30) for _ in range(5)]
    for s in socks:
        s.sendall(("GET /api/tanks/%s/stream HTTP/1.1\r\nHost: x\r\n\r\n" % other).encode())
    time.sleep(1)
    sim.delete("/api/tanks/%s" % other, timeout=30)
    t.ok(wait_until(lambda: clients() == 0, 30, 0.5), "deleting a tank ends its streams")
    for s in socks:
        s.close()
    # Streams still open at shutdown.
    keep = [socket.create_connection(("127.0.0.1", sim.port), timeout=30) for _ in range(3)]
    for s in keep:
        s.sendall(("GET /api/tanks/%s/stream HTTP/1.1\r\nHost: x\r\n\r\n" % tank).encode())
    time.sleep(1)
    rc = sim.stop(timeout=120)
    for s in keep:
        s.close()
    t.eq(rc, 0, "simd exits 0 under valgrind (no errors, no definite leaks)")
    if rc != 0:
        t.diag(sim.log_tail(60))
finally:
    for d in (sim, disc):
        if d.alive():
            d.stop()
    shutil.rmtree(root, ignore_errors=True)
t.done()
