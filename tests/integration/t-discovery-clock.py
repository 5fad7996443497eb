#!/usr/bin/env python3
"""A registry's ages do not follow the wall clock's steps. discoveryd runs under
faketime; its clock is set back an hour (an NTP correction, an operator) and a server
stops heartbeating: it must go offline after heartbeat_timeout all the same. Ages were
wall-clock differences, and a negative one read as fresh: the silent server stayed
online for the hour (found by an adversarial probe). Then the daemon restarts with the
clock set back again, and a server saved before is not taken as heard in the future.
A clock set right after the start dates heartbeats right; one before 1970 cannot make
discoveryd take its own registry for damaged."""
import os
import time

from twlib import Daemon, FakeClock, Tap, base_ports, finish, tmpdir, wait_until

t = Tap()
root = tmpdir("twdclk")
clock = FakeClock.or_skip(root)
d = Daemon("discoveryd", os.path.join(root, "d"), "clk-hub", base_ports(1)[0], env=clock.env,
           extra={"discovery.heartbeat_interval": "1", "discovery.heartbeat_timeout": "3",
                  "discovery.evict_after": "20"})


step = clock.step


def status(sid):
    r = d.get("/api/discovery/servers/%s" % sid)
    return r.json().get("status") if r.status == 200 else None


def info(sid):
    return {"server_id": sid, "hostname": "h-" + sid, "host": "127.0.0.1", "port": 9, "tank_count": 1}


try:
    d.start()
    t.ok(d.post("/api/discovery/register", info("x")).status in (200, 201), "x registers")
    step("-1h")
    time.sleep(0.5)
    t.ok(wait_until(lambda: status("x") == "offline", 12, 0.2),
         "the clock set back an hour, x stops heartbeating: offline after the timeout all the same",
         status("x"))
    age = d.get("/api/discovery/servers/x").json().get("heartbeat_age_seconds", -1)
    t.ok(age >= 3, "and its heartbeat age counts on (%.1f s)" % age)

    # A server heard now, saved; the daemon restarts with the clock an hour further back.
    step("+0d")
    d.post("/api/discovery/register", info("y"))
    t.eq(d.stop(), 0, "clean stop")
    step("-2h")
    d.start()
    t.ok(wait_until(lambda: status("y") == "offline", 12, 0.2),
         "restarted with the clock set back again: y, silent, goes offline after the timeout", status("y"))

    # Started with the clock a year behind, which is then set right (a board before NTP):
    # a heartbeat heard now is dated now, not in the time base of the start.
    t.eq(d.stop(), 0, "clean stop")
    step("-365d")
    d.start()
    step("+0d")
    d.post("/api/discovery/register", info("z"))
    heard = d.get("/api/discovery/servers/z").json().get("last_heartbeat_at", "")
    now = time.strftime("%Y-%m-%dT%H:%M", time.gmtime())
    t.ok(heard[:16] == now or heard[:13] == now[:13], "the clock set right after the start: z heard at %s (now %s)"
         % (heard, now))
    # Before 1970, or far ahead: the stamps stay within what the registry's files take,
    # and discoveryd starts again with its servers.
    step("-60y")
    d.post("/api/discovery/register", info("w"))
    t.eq(d.stop(), 0, "clean stop")
    step("+0d")
    d.start()
    t.ok(status("w") is not None and status("z") is not None and "damaged" not in d.log_tail(100),
         "registered while the clock said 1966: discoveryd starts again and knows w and z", d.log_tail(5))
    t.eq(d.stop(), 0, "clean stop")
finally:
    finish(t, root, [d])
t.done()
