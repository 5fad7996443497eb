#!/usr/bin/env python3
"""The seed's "How to run" recipe, typed as its status document shows with
`python -m backend.main` replaced by `tankworld`: a hub and two workers on one host,
environment variables only (on test ports instead of 8000-8002), everything through each
server's one door. The workers register with the hub (DISCOVERY_SERVER_URL names the hub's
door) and then list each other."""
import os
import subprocess

from twlib import BUILD, Tap, free_port, interrupt, request, start_tankworld, tmpdir, wait_until

t = Tap()
root = tmpdir("twrc")
ports = [free_port() for _ in range(3)]  # never the same twice (twlib reserves them)
names = ["hub-server", "worker-1", "worker-2"]
procs = []


def door(i, path, **kw):
    try:
        return request(kw.pop("method", "GET"), url="http://127.0.0.1:%d" % ports[i], path=path, timeout=5, **kw)
    except OSError:
        return None


def listed(i):
    r = door(i, "/api/discovery/servers")
    if not r or r.status != 200:
        return set()
    return {s["server_id"] for s in r.json()["servers"]}


try:
    # TANK_SERVER_ID=hub-server TANK_API_PORT=8000 tankworld
    # TANK_SERVER_ID=worker-1 TANK_API_PORT=8001 DISCOVERY_SERVER_URL=http://localhost:8000 tankworld
    # TANK_SERVER_ID=worker-2 TANK_API_PORT=8002 DISCOVERY_SERVER_URL=http://localhost:8000 tankworld
    for i, sid in enumerate(names):
        hub = "http://localhost:%d" % ports[0] if i else None
        procs.append(start_tankworld(root, sid + ".log", TANK_SERVER_ID=sid, TANK_API_PORT=ports[i],
                                     DISCOVERY_SERVER_URL=hub))
        t.ok(wait_until(lambda: getattr(door(i, "/health"), "status", 0) == 200, 30, 0.1),
             "%s answers on its door" % sid)
    t.ok(all(p.poll() is None for p in procs), "three servers run side by side on one host")
    for i, sid in enumerate(names):
        r = door(i, "/api/servers/local")
        t.ok(r and r.status == 200 and r.json()["server_id"] == sid and r.json()["port"] == ports[i],
             "%s: /api/servers/local through the door names it and its door" % sid, r)
        r = door(i, "/api/tanks")
        t.ok(r and r.status == 200 and r.json()["count"] >= 1, "%s: /api/tanks through the door" % sid, r)
    t.ok(wait_until(lambda: set(names) <= listed(0), 30, 0.2), "the hub lists both workers", listed(0))
    # Workers pull the hub's registry once per heartbeat interval (30 s by default).
    t.ok(wait_until(lambda: set(names) <= listed(1) and set(names) <= listed(2), 75, 0.5),
         "the workers list each other (and the hub)", (listed(1), listed(2)))
    r = door(1, "/api/connections")
    t.ok(r and r.status == 200 and "connections" in r.json(), "migrated's API through a worker's door", r)
    # These servers are insecure (no token): their private tanks are shown over TCP, so
    # tankctl's audit counts them and is complete (it took them for unseen: exit 2).
    r = door(1, "/api/tanks", method="POST", body={"name": "Hidden", "initial_fish": 2, "is_public": False})
    t.ok(r and r.status == 201, "a private tank made on worker-1 through its door", r)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANK_")}
    empty = os.path.join(root, "empty.conf")
    open(empty, "w").close()
    a = subprocess.run([os.path.join(BUILD, "tankctl", "tankctl"), "-c", empty, "--server",
                        "http://127.0.0.1:%d" % ports[0], "audit"], capture_output=True, text=True, timeout=60, env=env)
    t.ok(a.returncode == 0 and "incomplete" not in a.stdout + a.stderr,
         "tankctl audit of the three servers without a token: complete, exit 0", (a.returncode, a.stdout, a.stderr))
    w1 = [ln for ln in a.stdout.splitlines() if ln.startswith("worker-1")]
    t.ok(w1 and w1[0].split()[2] == "2", "and it counts worker-1's private tank (2 tanks)", a.stdout)
    # Run where the servers were started, with the recipe's environment and no file,
    # tankctl finds a server's sockets under ./data/<id>/run, as tankworld put them.
    a = subprocess.run([os.path.join(BUILD, "tankctl", "tankctl"), "tanks"], capture_output=True, text=True,
                       timeout=30, cwd=root, env=dict(env, TANK_SERVER_ID="worker-1"))
    t.ok(a.returncode == 0 and "Hidden" in a.stdout and "public tanks only" not in a.stdout,
         "TANK_SERVER_ID=worker-1 tankctl tanks, with no configuration file: worker-1's tanks over its socket",
         (a.returncode, a.stdout, a.stderr))
finally:
    interrupt(procs)
t.ok(all(p.returncode is not None for p in procs), "Ctrl-C stops every server")
t.done()
