#!/usr/bin/env python3
"""The web viewer in a real browser (Debian's chromium, driven by playwright-core from
npm): a hub and a worker with a cluster token; the tank view draws the fish the API
lists, a click opens the clicked fish's card, pause/resume/food/spawn/create act on the
API; the network map names both servers, draws their connection and shows a migration
along it; a page without the token asks for it and then succeeds; a tank's history is
plotted sample for sample and a fish's card shows its parents and grandparents, or, for
a fish born on another server, where they are recorded. Screenshots go to
tests/artifacts/ in the build tree. The checks themselves are in tests/browser/."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import uuid

sys.path.insert(0, os.path.dirname(__file__))
from twlib import BUILD, StubServer, Tap, tmpdir, wait_until  # noqa: E402
from migratedlib import Cluster, FakeServers, quiesce  # noqa: E402

SRC = os.environ.get("abs_top_srcdir", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
SCRIPT = os.path.join(SRC, "tests", "browser", "viewer.mjs")
ARTIFACTS = os.path.join(BUILD, "tests", "artifacts")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

t = Tap()


def tank_size(server, tank):
    st = server.sim.get("/api/tanks/%s" % tank).json()["tank"]
    return st["width"], st["height"]


def loneliest(server, tank, ids):
    """Of these fish of a paused tank, the one farthest from any other fish, so that a
    click on it cannot pick a neighbour."""
    fish = [e for e in server.sim.get("/api/tanks/%s/state" % tank).json()["entities"] if e["kind"] == "fish"]
    def room(f):
        return min([((g["x"] - f["x"]) ** 2 + (g["y"] - f["y"]) ** 2) ** 0.5 for g in fish if g is not f] or [1e9])
    mine = [f for f in fish if f["id"] in ids and f["y"] > 30]
    return max(mine, key=room) if mine else None


def lineage(server, tank, fish_id=None):
    q = "fish_id=%s&depth=2" % fish_id if fish_id else "limit=100000"
    return server.sim.get("/api/tanks/%s/lineage?%s" % (tank, q)).json()


def run_phase(phase, conf, timeout=150, on_line=None):
    """Runs one phase of viewer.mjs and turns its lines into TAP here. on_line, when
    given, sees each line the phase prints as it comes (a phase asks the test to act on
    the daemons so)."""
    if on_line:
        p = subprocess.Popen(["node", SCRIPT, phase, json.dumps(conf)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, cwd=SRC)
        got = []
        for line in p.stdout:
            got.append(line)
            on_line(line.strip())
        try:
            err = p.communicate(timeout=timeout)[1]
        except subprocess.TimeoutExpired:
            p.kill()
            err = "timed out"
        out = "".join(got)
    else:
        try:
            p = subprocess.run(["node", SCRIPT, phase, json.dumps(conf)], capture_output=True, text=True,
                               timeout=timeout, cwd=SRC)
            out, err = p.stdout, p.stderr
        except subprocess.TimeoutExpired as e:
            out, err = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or ""), "timed out"
    lines = [l for l in out.splitlines() if l.startswith("ok ") or l.startswith("not ok ")]
    for l in lines:
        good = l.startswith("ok ")
        name, _, why = l[3 if good else 7:].partition(" # ")
        t.ok(good, "%s: %s" % (phase, name), why)
    if not lines:
        t.ok(False, "%s: the browser phase printed results" % phase, (out + err)[-3000:])
    for l in out.splitlines():
        if l.startswith("bench:"):
            print(l, flush=True)


have_node = shutil.which("node") and os.path.isdir(os.path.join(SRC, "node_modules", "playwright-core"))
if not (have_node and os.path.exists(CHROMIUM)):
    t.ok(False, "chromium, node and playwright-core are installed (./bootstrap installs them)",
         "chromium=%s node_modules=%s" % (os.path.exists(CHROMIUM), have_node))
    t.done()

os.makedirs(ARTIFACTS, exist_ok=True)
root = tmpdir("twvb")
token = "browser-test-token-0123456789"
cl = Cluster(root, 2, token, names=["hub", "worker"],
             extra={"migration.check_interval": "0.3", "sim.tick_rate": "15"})
try:
    cl.start()
    hub, worker = cl.servers
    for s in cl.servers:
        for ts in s.tanks():
            s.sim.post("/api/tanks/%s/resume" % ts["tank"]["tank_id"])
    hub_tank = hub.tanks()[0]["tank"]["tank_id"]
    worker_tank = worker.tanks()[0]["tank"]["tank_id"]
    base = {"hub": hub.sim.url, "token": token, "artifacts": ARTIFACTS, "chromium": CHROMIUM}

    run_phase("tank", dict(base, tank=hub_tank))

    # Many fish at once, and fish a few pixels long: paused, so that nobody starves.
    crowd = hub.sim.post("/api/tanks", {"name": "Crowd", "initial_fish": 600, "max_fish": 600,
                                        "width": 3441, "height": 1935, "paused": True}).json()
    ocean = hub.sim.post("/api/tanks", {"name": "Ocean", "initial_fish": 200, "max_fish": 200, "width": 16000,
                                        "height": 9000, "paused": True}).json()
    # Food in three places of the ocean, so that a zoomed view leaves some out.
    for x in (2000, 8000, 14000):
        r = hub.sim.post("/api/tanks/%s/food" % ocean["tank"]["tank_id"], {"x": x, "count": 100})
        assert r.status == 201, r
    run_phase("crowd", dict(base, crowd=crowd["tank"]["tank_id"], crowd_fish=600,
                            ocean=ocean["tank"]["tank_id"], ocean_fish=200))

    # Plots and family tree (issue 15): a crowded fast-forward tank has births and history
    # samples within seconds; it is paused before the page looks at it. Another tank, just
    # made, has no sample yet.
    r = hub.sim.post("/api/tanks", {"name": "Nursery", "initial_fish": 40, "fast_forward": True,
                                    "history_interval": 3000})
    nursery = r.json()["tank"]["tank_id"]
    hub.sim.post("/api/tanks/%s/resume" % nursery)
    grown = wait_until(lambda: (lambda st: st["stats"]["births"] >= 60 and st["frame"] >= 30 * 3000)(
        hub.sim.get("/api/tanks/%s" % nursery).json()), 120, 0.2)
    t.ok(grown, "a fast-forward tank has births and 30 history samples")
    hub.sim.post("/api/tanks/%s/pause" % nursery)
    born = {}
    for rec in lineage(hub, nursery)["records"]:
        if rec["living"] and rec["mother_id"]:
            fam = {x["fish_id"]: x for x in lineage(hub, nursery, rec["fish_id"])["records"]}
            mo, fa = fam.get(rec["mother_id"]), fam.get(rec["father_id"])
            if mo and fa and mo["mother_id"] and fa["mother_id"]:
                born[rec["fish_id"]] = {"id": rec["fish_id"], "mother": mo["fish_id"], "father": fa["fish_id"],
                                        "grandparents": [g for p in (mo, fa) for g in (p["mother_id"], p["father_id"]) if g]}
    pick = loneliest(hub, nursery, born)
    t.ok(pick is not None, "the paused tank has a living fish with known parents and grandparents", len(born))
    empty = hub.sim.post("/api/tanks", {"name": "Newborn", "initial_fish": 5, "history_interval": 1000000}).json()["tank"]["tank_id"]
    if pick:
        w, h = tank_size(hub, nursery)
        run_phase("history", dict(base, tank=nursery, empty=empty, width=w, height=h,
                                  fish=dict(born[pick["id"]], x=pick["x"], y=pick["y"])))

    # A connection from the hub's tank to the worker's: fish cross it within seconds.
    r = hub.mig.post("/api/connections", {"sourceId": hub_tank, "destinationId": worker_tank,
                                          "destinationServerId": "worker", "probability": 100,
                                          "direction": "right"})
    t.ok(r.status in (200, 201), "a connection hub -> worker is made", r)
    # And one toward a full tank: refused, it backs off, and the map draws it held.
    full = worker.sim.post("/api/tanks", {"name": "Full", "initial_fish": 2, "max_fish": 2}).json()["tank"]["tank_id"]
    r = hub.mig.post("/api/connections", {"id": "to-full", "sourceId": empty, "destinationId": full,
                                          "destinationServerId": "worker", "probability": 100,
                                          "direction": "right"})
    held = wait_until(lambda: hub.mig.get("/api/connections/to-full").json().get("state") == "backing_off", 30, 0.2)
    t.ok(r.status in (200, 201) and held, "a connection to a full tank backs off", r)
    # And one back that moves no fish: the pair must be drawn as two arrows.
    r = worker.mig.post("/api/connections", {"id": "back", "sourceId": worker_tank, "destinationId": hub_tank,
                                             "destinationServerId": "hub", "probability": 0,
                                             "direction": "left"})
    t.ok(r.status in (200, 201), "a connection worker -> hub that moves no fish is made", r)
    run_phase("network", dict(base, servers=["hub", "worker"], connections=3, held="to-full",
                              pair=[hub_tank, worker_tank]))
    hub.mig.delete("/api/connections/to-full")
    worker.mig.delete("/api/connections/back")

    # A fish born in the nursery crosses to the worker; its parents stay recorded on the hub.
    r = hub.mig.post("/api/connections", {"sourceId": nursery, "destinationId": worker_tank,
                                          "destinationServerId": "worker", "probability": 100,
                                          "direction": "left"})
    hub.sim.post("/api/tanks/%s/resume" % nursery)
    def arrived():
        return {x["fish_id"]: x for x in lineage(worker, worker_tank)["records"]
                if x["living"] and x["born_server_id"] == "hub" and x["mother_id"]}
    came = wait_until(arrived, 60, 0.3)
    # No more crossings: an ancestor that crossed later would be known on the worker.
    d = hub.mig.delete("/api/connections/%s" % r.json().get("id"))
    hub.sim.post("/api/tanks/%s/pause" % nursery)

    # A fish that left through the nursery's wall waits in the hub's outbox until migrated
    # delivers it; migrated's in_flight does not count it yet. Once, under the sanitizers,
    # such a parent arrived after the pick, and the worker knew every ancestor.
    t.ok(d.status in (200, 204) and wait_until(lambda: hub.outbox_count(nursery) == 0, 60, 0.2)
         and quiesce([hub.mig]),
         "the nursery's connection is removed, no transfer in flight", d)
    worker.sim.post("/api/tanks/%s/pause" % worker_tank)
    came = arrived()
    # Its ancestors the worker has no record of (one parent may have crossed too).
    unknown = {}
    for fid in came or {}:
        gone = [m for m in lineage(worker, worker_tank, fid).get("missing", []) if m["child_born_server_id"] == "hub" and m["depth"] <= 2]
        if gone:
            unknown[fid] = gone[0]
    pick = unknown and loneliest(worker, worker_tank, unknown)
    t.ok(pick, "a fish born on the hub lives in the worker's tank, some ancestors unknown there", r)
    if pick:
        w, h = tank_size(worker, worker_tank)
        run_phase("family-remote", dict(base, url=worker.sim.url, tank=worker_tank, width=w, height=h,
                                        fish={"id": pick["id"], "x": pick["x"], "y": pick["y"],
                                              "born_server": "hub"}))
    worker.sim.post("/api/tanks/%s/resume" % worker_tank)

    # And one moved to another tank of the hub: its parents are recorded in the nursery.
    annex = hub.sim.post("/api/tanks", {"name": "Annex", "initial_fish": 0, "spawn_floor": 0,
                                        "paused": True}).json()["tank"]["tank_id"]
    born = [x for x in lineage(hub, nursery)["records"] if x["living"] and x["mother_id"]]
    mv = hub.sim.post("/api/tanks/%s/move" % nursery, {"destination_tank_id": annex, "fish_id": born[0]["fish_id"]}) \
        if born else None
    t.ok(mv is not None and mv.status == 200, "a fish born in the nursery moves to another tank of the hub", mv)
    if mv is not None and mv.status == 200:
        f = [e for e in hub.sim.get("/api/tanks/%s/state" % annex).json()["entities"] if e["kind"] == "fish"][0]
        w, h = tank_size(hub, annex)
        run_phase("family-local", dict(base, tank=annex, width=w, height=h,
                                       fish={"id": f["id"], "x": f["x"], "y": f["y"]}))
    hub.sim.delete("/api/tanks/%s" % annex)

    run_phase("token", dict(base, tank=hub_tank))

    # Two registered servers that misbehave: one accepts connections and never answers,
    # the other answers nonsense (a tank whose name is null). And a tank to delete while
    # it is watched.
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(64)

    lies = {"/api/tanks": {"tanks": [{"tank": {"tank_id": "x", "name": None}, "stats": {}}, None]},
            "/api/connections": {"connections": [{"id": 5}, None]},
            "/api/transfers": {"transfers": [{"transfer_id": None}, 7]}}
    liar = StubServer(lambda method, path, body: (200, lies.get(path.split("?")[0], {})), cors=True)
    # Heartbeated as their discoveryd would: registered once, they went offline after
    # the cluster's 5 s heartbeat_timeout on a loaded machine, before the map was read
    # (drawn "offline", not "unreachable").
    fakes = FakeServers(hub.disc)
    for sid, port in (("hung", hung.getsockname()[1]), ("liar", liar.port)):
        fakes.register(sid, port)
    doomed = hub.sim.post("/api/tanks", {"name": "Doomed", "initial_fish": 3}).json()["tank"]["tank_id"]
    # Paused once it has a frame to show: a fish of a running tank could swim through the
    # wall the connection below opens, toward a server that never answers, and then the
    # tank cannot be deleted (409 fish_in_transit; a CI run, 7 December).
    wait_until(lambda: hub.sim.get("/api/tanks/%s" % doomed).json()["frame"] > 0, 10, 0.05)
    hub.sim.post("/api/tanks/%s/pause" % doomed)
    r = hub.mig.post("/api/connections", {"id": "to-hung", "sourceId": doomed, "destinationId": str(uuid.uuid4()),
                                          "destinationServerId": "hung", "probability": 0, "direction": "right"})
    t.ok(r.status in (200, 201), "a connection to a tank of the hung server is made", r)
    run_phase("faults", dict(base, tank=doomed, hung="hung", liar="liar", toHung="to-hung"))
    hub.mig.delete("/api/connections/to-hung")
    for sid in ("hung", "liar"):
        fakes.unregister(sid)
    fakes.close()
    liar.close()
    hung.close()

    # What a watcher's audit found (7 December): see the phase. A private tank that
    # lives, the Ocean of the crowd phase, and a tank of no fish with samples.
    secret = hub.sim.post("/api/tanks", {"name": "Secret", "initial_fish": 8, "is_public": False}).json()["tank"]["tank_id"]
    nobody = hub.sim.post("/api/tanks", {"name": "Nobody", "initial_fish": 0, "spawn_floor": 0,
                                         "history_interval": 30}).json()["tank"]["tank_id"]
    wait_until(lambda: hub.sim.get("/api/tanks/%s/history?limit=1" % nobody).json()["samples"], 20, 0.2)
    held = {}

    def watch(line):
        if line == "stop-now":
            hub.sim.signal(signal.SIGSTOP)
        elif line == "cont-now":
            hub.sim.signal(signal.SIGCONT)
        elif line == "stop-disc":
            hub.disc.signal(signal.SIGSTOP)
        elif line == "cont-disc":
            hub.disc.signal(signal.SIGCONT)
        elif line.startswith("reserve "):
            # Out of its tank into the outbox, towards a server nobody knows: migrated
            # keeps it there (retrying) until the test aborts it.
            r = hub.sim.post("/api/outbox/reserve", {"source_tank_id": secret, "fish_id": line.split()[1],
                                                    "destination_server_id": "nowhere",
                                                    "destination_tank_id": str(uuid.uuid4())})
            held["tid"] = r.json().get("transfer_id") if r.status == 200 else None
        elif line == "abort" and held.get("tid"):
            hub.sim.post("/api/outbox/%s/abort" % held["tid"])
    try:
        run_phase("watch", dict(base, secret=secret, ocean=ocean["tank"]["tank_id"], nobody=nobody), on_line=watch)
    finally:
        hub.sim.signal(signal.SIGCONT)
        hub.disc.signal(signal.SIGCONT)
    t.ok(held.get("tid"), "the watched fish was taken out of its tank for the card's check")
    hub.sim.delete("/api/tanks/%s" % nobody)

    # simd restarted under a watching page: the new stream numbers its fish afresh, and
    # the page must drop what it kept by the old keys (fish wore other fish's looks) and
    # say live again (it said reconnecting for ever).
    flag = os.path.join(root, "restarted")

    def restart(line):
        if line == "restart-now":
            hub.sim.stop()
            hub.sim.start()
            open(flag, "w").close()
    # The hub's tank running with fish to draw: its fish may all have swum to the worker
    # or died by now (a sanitizer build's CI run), and the token phase ends it resumed
    # only if the page's resume worked.
    hub.sim.post("/api/tanks/%s/resume" % hub_tank)
    if hub.sim.get("/api/tanks/%s" % hub_tank).json()["stats"]["fish_count"] == 0:
        w, h = tank_size(hub, hub_tank)
        for i in range(3):
            hub.sim.post("/api/tanks/%s/fish" % hub_tank, {"x": w * (i + 1) / 4, "y": h / 2})
    run_phase("restart", dict(base, tank=hub_tank, flag=flag), on_line=restart)
    for name in ("tank-view.png", "network-map.png", "history-plots.png", "family-tree.png", "family-remote.png"):
        p = os.path.join(ARTIFACTS, name)
        t.ok(os.path.exists(p) and os.path.getsize(p) > 10000, "screenshot %s saved" % name)
finally:
    cl.stop()
    for s in cl.servers:
        for d in s.daemons.values():
            if "ERROR: AddressSanitizer" in d.log_tail(200) or "runtime error" in d.log_tail(200):
                t.ok(False, "%s/%s ran clean under the sanitizers" % (s.id, d.name), d.log_tail(40))
    shutil.rmtree(root, ignore_errors=True)
t.done()
