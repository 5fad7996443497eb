#!/usr/bin/env python3
"""A port collision names the port, what chose it and the fix (issue 9, item 5).
TANK_API_PORT names a server's one door (simd's port; discoveryd and migrated then keep
to their Unix sockets), so the original's recipe (8000, 8001, 8002) works; a door taken
by another server says so, and a base_port collision names base_port and its fix."""
import os
import shutil
import subprocess

from twlib import Daemon, Tap, base_ports, tmpdir

t = Tap()
root = tmpdir("twpt")
(p,) = base_ports(1)
hub = {n: Daemon(n, os.path.join(root, "hub"), "hub", p) for n in ("discoveryd", "simd")}


def second(name, base, env=None, extra=None):
    """Start one daemon of a second server and return (exit status, its log)."""
    d = Daemon(name, os.path.join(root, "w-%s-%d-%d" % (name, base, len(os.listdir(root)))),
               "worker", base, env=env, extra=extra)
    d.start(wait=False)
    try:
        rc = d.proc.wait(30)
    except subprocess.TimeoutExpired:
        d.stop()
        rc = None
    d._close()
    return rc, d.log_tail(5)


try:
    for d in hub.values():
        d.start()
    # A door on a port the hub's simd holds (base_port + 1).
    rc, log = second("simd", 1, env={"TANK_API_PORT": str(p + 1)})
    t.ok(rc not in (0, None), "a server whose door is taken cannot start", (rc, log))
    t.ok("127.0.0.1:%d" % (p + 1) in log, "the error names the port", log)
    t.ok("TANK_API_PORT=%d" % (p + 1) in log and "door" in log, "... and the variable that chose it", log)
    t.ok("door of its own" in log, "... and the fix", log)
    # Without a door, three ports per server: base ports must be 3 apart.
    rc, log = second("simd", p)
    t.ok(rc not in (0, None) and "at least 3 apart" in log and "8000, 8010 and 8020" in log,
         "a base_port collision says base ports must be 3 apart", log)
    rc, log = second("discoveryd", p + 1)
    t.ok(rc not in (0, None) and "base_port = %d in the configuration" % (p + 1) in log,
         "from the file: the error names base_port", log)
    rc, log = second("migrated", 1, extra={"server.base_port": str(p - 1)})
    t.ok(rc not in (0, None) and "--set server.base_port=%d" % (p - 1) in log and
         "base_port + 2" in log, "from --set: named too, with the offset", log)
    rc, log = second("discoveryd", 1, extra={"discovery.listen": "127.0.0.1:%d" % (p + 1)})
    t.ok(rc not in (0, None) and "[discovery] listen = 127.0.0.1:%d" % (p + 1) in log,
         "an explicit listen address is named as such", log)
    # The original's recipe: doors on three consecutive ports, side by side.
    (q,) = base_ports(1)
    doors = []
    for k in range(3):
        d = Daemon("simd", os.path.join(root, "door%d" % k), "door%d" % k, 1, env={"TANK_API_PORT": str(q + k)})
        d.start()
        doors.append(d)
    t.ok(all(d.alive() for d in doors), "three servers on doors %d, %d and %d start side by side" % (q, q + 1, q + 2))
    for d in doors:
        d.stop()
except Exception:
    import traceback
    t.ok(False, "no exception", traceback.format_exc())
finally:
    for d in hub.values():
        if d.alive():
            d.stop()
    shutil.rmtree(root, ignore_errors=True)
t.done()
