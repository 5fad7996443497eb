#!/usr/bin/env python3
"""Fast-forward for experiments (issue 15 item 5): a tank created with
"fast_forward": true ticks back to back, as fast as a CPU allows, while a tank beside it
keeps the normal rate and the daemon keeps answering; the flag is saved with the tank
and survives kill -9; a flag that is not a boolean is a JSON 400."""
import shutil
import time

from twlib import Daemon, Tap, base_ports, tmpdir

t = Tap()
root = tmpdir("twff")
(port,) = base_ports(1)
d = Daemon("simd", root, "ff", port, extra={"sim.tick_rate": "30", "sim.snapshot_interval": "1"})


def frame(tid):
    return d.get("/api/tanks/%s" % tid).json()["frame"]


try:
    d.start()
    r = d.post("/api/tanks", {"name": "Fast", "initial_fish": 20, "fast_forward": True})
    t.eq(r.status, 201, "a fast-forward tank is created")
    fast = r.json()["tank"]
    slow = d.post("/api/tanks", {"name": "Slow", "initial_fish": 20}).json()["tank"]
    t.eq((fast.get("fast_forward"), slow.get("fast_forward")), (True, False),
         "the tank says whether it fast-forwards")

    f0, s0, t0 = frame(fast["tank_id"]), frame(slow["tank_id"]), time.monotonic()
    worst, answered = 0.0, True
    while time.monotonic() - t0 < 3.0:
        a = time.monotonic()
        answered = answered and d.get("/health").status == 200
        worst = max(worst, time.monotonic() - a)
        time.sleep(0.05)
    el = time.monotonic() - t0
    fast_rate = (frame(fast["tank_id"]) - f0) / el
    slow_rate = (frame(slow["tank_id"]) - s0) / el
    t.diag("fast-forward %.0f ticks/s, normal %.1f ticks/s, slowest /health %.3f s" % (fast_rate, slow_rate, worst))
    # Counted, not timed: 20 fish tick in well under a millisecond, so even a loaded
    # machine gives the unthrottled tank many times the 30 ticks/s of its neighbour.
    t.ok(fast_rate > 5 * 30, "the fast-forward tank outruns 30 ticks/s many times (%.0f ticks/s)" % fast_rate)
    t.ok(15 <= slow_rate <= 36, "the tank beside it keeps its rate (%.1f ticks/s)" % slow_rate)
    t.ok(answered and worst < 2.0, "the daemon keeps answering meanwhile (slowest /health %.3f s)" % worst)
    st = d.get("/api/tanks/%s" % fast["tank_id"]).json()
    t.ok(not st.get("lagging", False), "a fast-forward tank is never called lagging", st)

    r = d.post("/api/tanks", {"name": "Bad", "fast_forward": "yes"})
    t.ok(r.status == 400 and r.json().get("code") == "invalid_tank", "fast_forward must be a boolean: JSON 400", r)
    t.ok("Bad" not in [x["tank"]["name"] for x in d.get("/api/tanks").json()["tanks"]], "... and nothing is created")

    time.sleep(1.5)  # a snapshot round with both tanks
    d.kill9()
    d.start()
    again = d.get("/api/tanks/%s" % fast["tank_id"]).json()
    t.eq(again["tank"].get("fast_forward") if "tank" in again else again.get("fast_forward"), True,
         "after kill -9 the tank still fast-forwards")
    f1 = frame(fast["tank_id"])
    time.sleep(1.0)
    t.ok(frame(fast["tank_id"]) - f1 > 5 * 30, "... and runs unthrottled again")
    t.eq(d.stop(), 0, "simd exits 0 on SIGTERM")
finally:
    d.stop()
    shutil.rmtree(root, ignore_errors=True)
t.done()
