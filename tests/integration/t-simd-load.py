#!/usr/bin/env python3
"""A 1,000-fish tank keeps its tick rate while clients hammer the API: ticks run on
their own thread and readers get the status published after each tick, so neither
waits for the other. (Throughput figures live in make bench, not here.)"""
import threading
import time

from twlib import Daemon, Tap, base_ports, finish, request, tmpdir

t = Tap()
root = tmpdir("twsl")
d = Daemon("simd", root, "load", base_ports(1)[0], extra={"sim.snapshot_interval": "5"})
try:
    d.start()
    r = d.post("/api/tanks", {"name": "big", "initial_fish": 1000, "max_fish": 1200, "width": 3440, "height": 1935})
    t.eq(r.status, 201, "a 1,000-fish tank")
    tank = r.json()["tank"]["tank_id"]
    for tk in d.get("/api/tanks").json()["tanks"]:
        if tk["tank"]["tank_id"] != tank:
            d.post("/api/tanks/%s/pause" % tk["tank"]["tank_id"])

    def frame():
        return d.get("/api/tanks/%s" % tank).json()["frame"]

    time.sleep(1.0)
    f0, t0 = frame(), time.time()
    time.sleep(2.0)
    quiet_rate = (frame() - f0) / (time.time() - t0)

    stop = time.time() + 3.0
    counts = []

    def hammer(path):
        n = 0
        while time.time() < stop:
            if request("GET", url=d.url, path=path).status == 200:
                n += 1
        counts.append(n)

    paths = ["/api/tanks/%s" % tank, "/api/tanks", "/api/tanks/%s/state" % tank, "/health"]
    threads = [threading.Thread(target=hammer, args=(p,)) for p in paths]
    f1, t1 = frame(), time.time()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    busy_rate = (frame() - f1) / (time.time() - t1)
    t.diag("ticks/s quiet %.1f, under %d requests in 3 s: %.1f" % (quiet_rate, sum(counts), busy_rate))
    t.ok(sum(counts) > 100, "the API answered %d requests meanwhile" % sum(counts))
    t.ok(busy_rate >= 0.9 * quiet_rate, "the tick rate holds under load (%.1f vs %.1f ticks/s)" % (busy_rate, quiet_rate))
    t.ok(quiet_rate >= 27, "the tank ticks at its rate of 30 (%.1f)" % quiet_rate)
    t.eq(d.stop(), 0, "exits 0")
finally:
    finish(t, root, [d])
t.done()
