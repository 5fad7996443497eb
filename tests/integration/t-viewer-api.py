#!/usr/bin/env python3
"""simd's side of the web viewer, without a browser: the web app's files (content types,
ETag and Last-Modified revalidation, no way out of the folder, the www_dir key), the live
stream (SSE, fps, looks sent once per entity, one encoding per tick whatever the number
of clients, slow clients dropped, disconnects freed at once), the food and fish controls
(bad bodies change nothing, the token over TCP), CORS on read-only GETs, and the relay
to discoveryd and migrated. SEED=... replays the random choices."""

import http.server
import json
import os
import random
import re
import socket
import socketserver
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from twlib import Daemon, Tap, base_ports, fd_baseline, fd_count, request, tmpdir, wait_until, write_token  # noqa: E402

seed = int(os.environ.get("SEED", random.randrange(1 << 30)))
random.seed(seed)
t = Tap()
t.diag("seed %d" % seed)
root = tmpdir("twva")
token = "viewer-api-token-0123456789"
write_token(os.path.join(root, "token"), token)
(p1,) = base_ports(1)
# 1,000 stream clients come from one address here: above the default per-address limit.
extra = {"security.token_file": os.path.join(root, "token"), "sim.tick_rate": "20",
         "server.max_connections_per_address": "5000",
         "discovery.heartbeat_interval": "0.5", "discovery.heartbeat_timeout": "5"}
disc = Daemon("discoveryd", os.path.join(root, "s"), "viewer-hub", p1, extra=extra)
sim = Daemon("simd", os.path.join(root, "s"), "viewer-hub", p1, extra=extra)
mig = Daemon("migrated", os.path.join(root, "s"), "viewer-hub", p1, extra=extra)
custom_www = os.path.join(root, "www")
os.makedirs(os.path.join(custom_www, "static"))
with open(os.path.join(custom_www, "index.html"), "w") as f:
    f.write("<!doctype html><title>custom</title>custom viewer\n")
with open(os.path.join(root, "secret.js"), "w") as f:
    f.write("secret\n")
os.symlink(os.path.join(root, "secret.js"), os.path.join(custom_www, "static", "link.js"))
(p2,) = [p for p in base_ports(2) if abs(p - p1) > 3][:1] or [p1 + 10]
sim2 = Daemon("simd", os.path.join(root, "c"), "viewer-custom", p2,
              extra={"sim.www_dir": custom_www, "sim.tick_rate": "10"})


def metrics(d):
    out = {}
    for line in d.get("/metrics").body.splitlines():
        m = re.match(r'^(\w+)(\{[^}]*\})? ([0-9.e+-]+)$', line)
        if m:
            out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def open_stream(port, path):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n" % path).encode())
    return s


def read_events(port, path, n, timeout=15):
    """The first n SSE events (parsed JSON) of a stream, and the response head."""
    s = open_stream(port, path)
    buf = b""
    deadline = time.time() + timeout
    while b"\r\n\r\n" not in buf and time.time() < deadline:
        buf += s.recv(65536)
    head, _, rest = buf.partition(b"\r\n\r\n")
    events, data = [], b""
    # Chunked transfer: strip the chunk framing, then split events on blank lines.
    while len(events) < n and time.time() < deadline:
        while True:
            m = re.match(rb"([0-9a-fA-F]+)\r\n", rest)
            if not m:
                break
            size = int(m.group(1), 16)
            if len(rest) < m.end() + size + 2:
                break
            data += rest[m.end():m.end() + size]
            rest = rest[m.end() + size + 2:]
        while b"\n\n" in data:
            ev, _, data = data.partition(b"\n\n")
            if ev.startswith(b"data: "):
                events.append(json.loads(ev[6:]))
        if len(events) >= n:
            break
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        rest += chunk
    s.close()
    return head.decode(), events


try:
    for d in (disc, sim, mig, sim2):
        d.start()
    tank = sim.get("/api/tanks").json()["default_tank_id"]
    port = sim.port

    # ---- the web app's files -------------------------------------------------------
    r = request("GET", url=sim.url, path="/")
    t.eq(r.status, 200, "GET / answers 200")
    t.ok(r.headers.get("Content-Type", "").startswith("text/html"), "GET / is text/html", r.headers)
    t.ok('type="module"' in r.body and "static/app.js" in r.body, "the page loads the app as an ES module")
    etag, lm = r.headers.get("ETag"), r.headers.get("Last-Modified")
    t.ok(etag and lm, "GET / has an ETag and Last-Modified", r.headers)
    r2 = request("GET", url=sim.url, path="/", headers={"If-None-Match": etag})
    t.eq(r2.status, 304, "a matching If-None-Match answers 304")
    r3 = request("GET", url=sim.url, path="/", headers={"If-Modified-Since": lm})
    t.eq(r3.status, 304, "If-Modified-Since at the file's time answers 304")
    r4 = request("GET", unix=sim.socket, path="/")
    t.eq(r4.status, 200, "the page is served on the Unix socket too")
    for name, ctype in (("app.js", "text/javascript"), ("style.css", "text/css"), ("icon.svg", "image/svg+xml"),
                        ("tank.js", "text/javascript"), ("network.js", "text/javascript")):
        r = request("GET", url=sim.url, path="/static/" + name)
        t.ok(r.status == 200 and r.headers.get("Content-Type", "").startswith(ctype),
             "static/%s is %s" % (name, ctype), r)
    # HEAD of a file: its headers and length, no body. The files were sent whole to a
    # HEAD, with no Content-Length, so a keep-alive client read them as the next answer.
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"HEAD /static/icon.svg HTTP/1.1\r\nHost: x\r\n\r\nHEAD / HTTP/1.1\r\nHost: x\r\n\r\n"
              b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    buf, deadline = b"", time.time() + 10
    while time.time() < deadline:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    parts = buf.split(b"\r\n\r\n")
    heads = [h for h in parts if h.startswith(b"HTTP/1.1 ")]
    lengths = [re.search(rb"(?im)^Content-Length: *(\d+)", h) for h in heads[:2]]
    want = [len(request("GET", url=sim.url, path=p_).body.encode()) for p_ in ("/static/icon.svg", "/")]
    t.ok(len(heads) == 3 and all(h.startswith(b"HTTP/1.1 200") for h in heads) and
         parts[1].startswith(b"HTTP/1.1 ") and parts[2].startswith(b"HTTP/1.1 ") and
         [int(m.group(1)) if m else None for m in lengths] == want,
         "HEAD of a file answers its head with the file's Content-Length and no body, and "
         "the connection goes on", buf[:400])
    for bad in ("/static/..%2f..%2fetc%2fpasswd", "/static/%2e%2e/index.html", "/static/../index.html",
                "/static/..", "/static/.hidden.js", "/static/%2e%2e%2fsecret.js", "/static/x/../../index.html",
                "/static/..%252fapp.js", "/static/app.js%00.css", "/static/nope.js", "/static/app.exe",
                "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/index.html/.."):
        r = request("GET", url=sim.url, path=bad)
        ok = r.status == (400 if "%00" in bad else 404)  # a NUL in a path is a 400 (issue 9)
        try:
            ok = ok and "code" in r.json()
        except ValueError:
            ok = False
        t.ok(ok, "%s is a JSON %s" % (bad, "400" if "%00" in bad else "404"), r)
    r = request("GET", url=sim2.url, path="/")
    t.ok(r.status == 200 and "custom viewer" in r.body, "sim.www_dir names another folder", r)
    r = request("GET", url=sim2.url, path="/static/link.js")
    t.eq(r.status, 404, "a symbolic link out of the folder is not followed")
    t.ok("cannot be read" not in sim2.log_tail(200),
         "a www_dir that holds the app: no warning at the start")
    # A www_dir without the app is said in the log at the start (it showed only as a 404).
    nowww = Daemon("simd", os.path.join(root, "n"), "viewer-none", p2,
                   extra={"sim.www_dir": os.path.join(root, "no-such-folder"), "sim.tick_rate": "10"})
    sim2.stop()
    nowww.start()
    t.ok("no-such-folder/index.html cannot be read" in nowww.log_tail(50) and "www_dir" in nowww.log_tail(50),
         "a www_dir without index.html: a warning at the start naming the file and the key", nowww.log_tail(8))
    t.eq(request("GET", url=nowww.url, path="/").status, 404, "and / is a 404")
    nowww.stop()
    sim2.start()

    # ---- the stream: bad input ---------------------------------------------------------
    for q in ("fps=0", "fps=31", "fps=abc", "fps=-1", "fps=1.5", "fps="):
        r = request("GET", url=sim.url, path="/api/tanks/%s/stream?%s" % (tank, q))
        t.ok(r.status == 400 and r.json().get("code"), "stream ?%s is a JSON 400" % q, r)
    r = request("GET", url=sim.url, path="/api/tanks/%s/stream" % "no-such-tank")
    t.ok(r.status == 404 and r.json().get("code") == "unknown_tank", "an unknown tank's stream is a JSON 404", r)
    r = request("GET", url=sim.url, path="/api/tanks/%s/stream" % ("x" * 200))
    t.ok(r.status == 404 and r.json().get("code"), "an overlong tank id's stream is a JSON 404", r)

    # ---- the stream: content -------------------------------------------------------------
    head, ev = read_events(port, "/api/tanks/%s/stream?fps=10" % tank, 12)
    t.ok("text/event-stream" in head, "the stream is text/event-stream", head)
    t.ok("Access-Control-Allow-Origin: *" in head, "the stream allows other origins (read-only)", head)
    t.ok(len(ev) == 12, "12 events arrive", len(ev))
    first = ev[0] if ev else {}
    t.ok(all(k in first for k in ("frame", "fish", "plants", "food", "crabs", "castle", "day_time", "stats")),
         "an event has the frame, fish, plants, food, crabs, castle, day/night and stats", sorted(first))
    looks = {}
    dup = 0
    missing = 0
    for e in ev:
        for l in e.get("looks", []):
            if l["k"] in looks:
                dup += 1
            looks[l["k"]] = l
        for f in e["fish"]:
            missing += f[0] not in looks
        for p in e["plants"]:
            missing += p[0] not in looks
    t.eq(dup, 0, "looks are sent once per entity")
    t.eq(missing, 0, "every entity drawn has its looks")
    fl = [l for l in looks.values() if l["kind"] == "fish"]
    t.ok(fl and all(k in fl[0] for k in ("id", "template_id", "pattern_type", "color_hue", "fin_size",
                                          "tail_size", "eye_size", "body_aspect", "pattern_intensity")),
         "a fish's looks carry its id and visual genome", fl[:1])
    pl = [l for l in looks.values() if l["kind"] == "plant"]
    t.ok(pl and all(k in pl[0] for k in ("fractal_type", "angle", "length_ratio", "branch_probability",
                                          "color_hue", "x", "y")), "a plant's looks carry its L-system genome", pl[:1])
    t.ok(all(len(f) == 7 for f in first.get("fish", [])), "a fish in a frame is [key,x,y,vx,vy,size,energy]")
    state = sim.get("/api/tanks/%s/state" % tank).json()
    ids = {e["id"] for e in state["entities"] if e["kind"] == "fish"}
    t.ok({l["id"] for l in fl} & ids, "the stream's fish are the tank's fish")
    frames = [e["frame"] for e in ev]
    t.ok(all(b > a for a, b in zip(frames, frames[1:])), "frames only move forwards", frames)
    # fps: 10 events per second of frames at 20 ticks/s is every other tick.
    steps = [b - a for a, b in zip(frames[1:], frames[2:])]
    t.ok(steps and sorted(steps)[len(steps) // 2] == 2, "?fps=10 on a 20 ticks/s tank sends every other tick", steps)
    _, ev2 = read_events(port, "/api/tanks/%s/stream" % tank, 6)
    steps = [b["frame"] - a["frame"] for a, b in zip(ev2[1:], ev2[2:])]
    t.ok(steps and sorted(steps)[len(steps) // 2] <= 2, "the default is 15 events per second", steps)
    _, ev3 = read_events(port, "/api/tanks/%s/stream?fps=2" % tank, 4)
    steps = [b["frame"] - a["frame"] for a, b in zip(ev3[1:], ev3[2:])]
    t.ok(steps and min(steps) >= 9, "?fps=2 sends every tenth tick or less often", steps)

    # ---- one encoding per tick, shared ---------------------------------------------------
    key = 'tankworld_sim_stream_frames_encoded_total{tank="%s"}' % tank
    clients = [open_stream(port, "/api/tanks/%s/stream?fps=30" % tank) for _ in range(40)]
    time.sleep(0.5)
    m0, f0 = metrics(sim), sim.get("/api/tanks/%s" % tank).json()["frame"]
    time.sleep(2)
    m1, f1 = metrics(sim), sim.get("/api/tanks/%s" % tank).json()["frame"]
    enc, ticks = m1[key] - m0[key], f1 - f0
    t.ok(0 < enc <= ticks + 2, "40 clients: %d encodings for %d ticks" % (enc, ticks))
    t.ok(m1["tankworld_sim_stream_clients"] >= 40, "the clients are counted", m1.get("tankworld_sim_stream_clients"))
    for c in clients:
        c.close()
    t.ok(wait_until(lambda: metrics(sim)["tankworld_sim_stream_clients"] == 0, 5),
         "clients that disconnect are freed at once")

    # ---- 1,000 clients connecting and vanishing --------------------------------------------
    # A client left behind is a socket: sockets are counted on their own too.
    base_fds, base_socks = fd_baseline(sim.proc.pid)
    for batch in range(10):
        socks = [open_stream(port, "/api/tanks/%s/stream?fps=%d" % (tank, random.randint(1, 30))) for _ in range(100)]
        if batch % 2:
            for s in socks[:50]:
                s.recv(100)  # some read, some never do
        for s in socks:
            s.close()
    t.ok(wait_until(lambda: metrics(sim)["tankworld_sim_stream_clients"] == 0, 10),
         "after 1,000 clients came and went no stream is left")
    t.ok(wait_until(lambda: fd_count(sim.proc.pid, "socket:") <= base_socks, 10), "and no socket is left",
         "%d then %d" % (base_socks, fd_count(sim.proc.pid, "socket:")))
    t.ok(wait_until(lambda: fd_count(sim.proc.pid) <= base_fds, 10), "and no descriptor is left",
         "%d then %d" % (base_fds, fd_count(sim.proc.pid)))
    t.ok(sim.alive(), "simd is alive")

    # ---- a slow client is dropped ----------------------------------------------------------
    big = sim.post("/api/tanks", {"name": "Crowd", "initial_fish": 1000, "max_fish": 1000}).json()["tank"]["tank_id"]
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect(("127.0.0.1", port))
    slow.sendall(("GET /api/tanks/%s/stream?fps=30 HTTP/1.1\r\nHost: x\r\n\r\n" % big).encode())
    dropped = wait_until(lambda: metrics(sim)["tankworld_sim_stream_dropped_total"] >= 1, 60, 0.5)
    t.ok(dropped, "a client that does not read is dropped, not buffered without bound")
    slow.close()
    sim.delete("/api/tanks/%s" % big)

    # ---- many new clients of a big tank ------------------------------------------------------
    # A new client's first event carries the looks of every fish (3 MB at 10,000). They
    # were copied into each client's output on the event loop: 100 clients that never
    # read stalled /health for 0.3-3 s and held 1-5 MB each (an adversarial probe; 58 MB
    # for these 60). They are now one shared slice, sent by reference.
    huge = sim.post("/api/tanks", {"name": "Huge", "initial_fish": 10000, "max_fish": 10000,
                                   "width": 10880, "height": 6120}).json()["tank"]["tank_id"]
    t.ok(wait_until(lambda: sim.get("/api/tanks/%s" % huge).status == 200, 60), "a 10,000-fish tank is made")
    sim.post("/api/tanks/%s/pause" % huge)
    _, first = read_events(port, "/api/tanks/%s/stream" % huge, 1)
    t.ok(first and len(first[0].get("looks", [])) >= 10000,
         "a new client's first event has the looks of every fish", first and len(first[0].get("looks", [])))

    def rss_kb():
        for line in open("/proc/%d/status" % sim.proc.pid):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    rss0, worst = rss_kb(), 0.0
    many = []
    for i in range(60):
        many.append(open_stream(port, "/api/tanks/%s/stream?fps=30" % huge))
        if i % 10 == 9:
            t0 = time.monotonic()
            request("GET", url=sim.url, path="/health")
            worst = max(worst, time.monotonic() - t0)
    t.ok(wait_until(lambda: metrics(sim)["tankworld_sim_stream_clients"] >= 60, 20), "60 clients that never read")
    grown = (rss_kb() - rss0) / 1024
    # ASan keeps freed memory in quarantine and pads every allocation: 23 MB for them
    # there, against 0 in the plain build; copied, 58 MB plain and 214 MB under ASan.
    bound = 45 if os.environ.get("TW_SANITIZERS") == "yes" else 20
    t.ok(grown < bound, "they share the looks: simd grew %.0f MB for 60 of them (1-3 MB each when "
         "copied); /health took at most %.0f ms meanwhile" % (grown, worst * 1e3))
    for s in many:
        s.close()
    sim.delete("/api/tanks/%s" % huge)

    # ---- controls: food and fish --------------------------------------------------------------
    sim.post("/api/tanks/%s/pause" % tank)
    st = lambda: sim.get("/api/tanks/%s" % tank).json()["stats"]
    food0, fish0 = st()["food_count"], st()["fish_count"]
    for body in ({"count": 0}, {"count": 101}, {"count": "3"}, {"x": -5}, {"x": 1e9}, {"x": "left"},
                 {"count": 2.5}, [], "not json", {"count": {}}):
        raw = body if isinstance(body, str) else None
        r = sim.req("POST", "/api/tanks/%s/food" % tank, body=None if raw else body, raw=raw)
        t.ok(r.status == 400 and r.json().get("code"), "food %r is a JSON 400" % (body,), r)
    r = sim.req("POST", "/api/tanks/%s/food" % tank)
    t.ok(r.status == 400 and r.json().get("code"), "food without a body is a JSON 400", r)
    t.eq(st()["food_count"], food0, "bad food bodies change nothing")
    r = sim.post("/api/tanks/%s/food" % tank, {"count": 4, "x": 300})
    t.ok(r.status == 201 and r.json()["added"] >= 1, "POST food drops food", r)
    t.ok(st()["food_count"] > food0, "the food count rises")
    for body in ({"x": -1}, {"y": 1e9}, {"x": "s"}, {"y": []}, [1], "{"):
        raw = body if isinstance(body, str) else None
        r = sim.req("POST", "/api/tanks/%s/fish" % tank, body=None if raw else body, raw=raw)
        t.ok(r.status == 400 and r.json().get("code"), "fish %r is a JSON 400" % (body,), r)
    t.eq(st()["fish_count"], fish0, "bad fish bodies change nothing")
    r = sim.post("/api/tanks/%s/fish" % tank, {"x": 200, "y": 200})
    t.ok(r.status == 201 and r.json()["fish"]["generation"] == 0, "POST fish adds a generation-0 fish", r)
    t.eq(st()["fish_count"], fish0 + 1, "the fish count rises by one")
    fid = r.json()["fish"]["id"]
    t.eq(sim.get("/api/tanks/%s/fish/%s" % (tank, fid)).status, 200, "the new fish is in the tank")
    r = sim.post("/api/tanks/nope/food", {})
    t.ok(r.status == 404 and r.json()["code"] == "unknown_tank", "food for an unknown tank is a JSON 404", r)
    small = sim.post("/api/tanks", {"name": "Small", "initial_fish": 1, "max_fish": 1, "paused": True}).json()["tank"]["tank_id"]
    r = sim.post("/api/tanks/%s/fish" % small, {})
    t.ok(r.status == 409 and r.json()["code"] == "tank_full", "a fish for a full tank is a JSON 409", r)
    # Over TCP the token is needed, as for every mutation.
    r = sim.post("/api/tanks/%s/food" % tank, {"count": 1}, tcp=True)
    t.eq(r.status, 401, "food over TCP without the token is refused")
    r = sim.post("/api/tanks/%s/food" % tank, {"count": 1}, tcp=True, token=token)
    t.eq(r.status, 201, "food over TCP with the token is taken")
    # A paused tank's stream shows the new food at once.
    _, evp = read_events(port, "/api/tanks/%s/stream" % tank, 1)
    t.ok(evp and evp[0]["paused"] and len(evp[0]["food"]) == st()["food_count"],
         "a paused tank's stream shows its current food", evp[0]["stats"] if evp else None)
    # Then nothing more happens in it, and the stream says it is alive: a comment line
    # every 2 s of quiet (a viewer tells a quiet stream from a hung server by it).
    ka0 = metrics(sim)["tankworld_sim_stream_keepalives_total"]
    s = open_stream(port, "/api/tanks/%s/stream" % tank)
    raw, t0, when = b"", time.time(), []
    while time.time() - t0 < 8.0:
        s.settimeout(max(0.05, 8.0 - (time.time() - t0)))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        raw += chunk
        when += [time.time() - t0] * chunk.count(b": keep-alive\n\n")
    s.close()
    gaps = [b - a for a, b in zip(when, when[1:])]
    t.ok(raw.count(b"data: {") == 1 and len(when) >= 2 and when[0] < 4.0 and all(1.5 < g < 2.8 for g in gaps),
         "a paused tank's quiet stream carries a keep-alive comment every 2 s",
         "%d frames, keep-alives at %s" % (raw.count(b"data: {"), when))
    t.ok(metrics(sim)["tankworld_sim_stream_keepalives_total"] >= ka0 + 2, "and /metrics counts them")

    # ---- CORS only on read-only GETs --------------------------------------------------------------
    r = request("GET", url=sim.url, path="/api/tanks")
    t.eq(r.headers.get("Access-Control-Allow-Origin"), "*", "GET /api/tanks allows other origins")
    r = request("GET", url=sim.url, path="/api/tanks/%s" % tank)
    t.eq(r.headers.get("Access-Control-Allow-Origin"), "*", "GET /api/tanks/{id} allows other origins")
    r = sim.post("/api/tanks/%s/food" % tank, {"count": 1}, tcp=True, token=token)
    t.ok("Access-Control-Allow-Origin" not in r.headers, "a mutation does not", r.headers)

    # ---- the relay -------------------------------------------------------------------------------------
    r = request("GET", url=sim.url, path="/api/discovery/servers")
    t.ok(r.status == 200 and any(s["server_id"] == "viewer-hub" for s in r.json()["servers"]),
         "simd relays GET /api/discovery/servers", r)
    t.eq(r.headers.get("Access-Control-Allow-Origin"), "*", "the relayed GET allows other origins")
    r = request("GET", url=sim.url, path="/api/connections")
    t.ok(r.status == 200 and "connections" in r.json(), "simd relays GET /api/connections", r)
    r = request("HEAD", url=sim.url, path="/api/connections")
    t.ok(r.status == 200 and r.body == "" and int(r.headers.get("Content-Length", 0)) > 0,
         "simd relays HEAD /api/connections: the head of the GET, no body", (r, r.headers))
    r = request("GET", url=sim.url, path="/api/transfers?limit=5")
    t.ok(r.status == 200 and "transfers" in r.json(), "simd relays GET /api/transfers with its query", r)
    # The door serves migrated's per-tank counters too (the original's clients read
    # them from the one port): without its relay route the path is simd's 404.
    r = request("GET", url=sim.url, path="/api/tanks/%s/transfer-stats" % tank)
    t.ok(r.status == 200 and "transfers_in" in r.json(), "simd relays GET /api/tanks/{id}/transfer-stats", r)
    r = request("GET", url=sim.url, path="/api/transfers?limit=0")
    t.ok(r.status == 400 and r.json().get("code"), "the sibling's status and error come back unchanged", r)
    # The door (issue 19): mutations are relayed too, with the token rule of direct access.
    r = sim.post("/api/connections", {"sourceId": tank, "destinationId": tank}, tcp=True)
    t.eq(r.status, 401, "a relayed POST without the token is refused by simd")
    r = sim.post("/api/connections", {"sourceId": tank, "destinationId": tank}, tcp=True, token=token)
    t.ok(r.status in (201, 400) and (r.status == 201 or r.json().get("code")),
         "a relayed POST with the token gets migrated's own answer", r)
    # A connection id holds '>': the door takes it raw, as migrated does, and escaped.
    r = mig.post("/api/connections", {"id": "door->test", "sourceId": tank, "destinationId": small})
    cid = "door->test" if r.status in (200, 201) else None
    got = [request("GET", url=sim.url, path="/api/connections/" + p_) for p_ in
           ((cid or "").replace(">", "%3E"), cid or "")]
    t.ok(cid and all(g.status == 200 and g.json().get("id") == cid for g in got),
         "a connection id with '>' is relayed escaped and raw (%s)" % cid, got)
    # A method the sibling does not take: its 405 comes back with its Allow header, which
    # HTTP requires of a 405 (the relay dropped it before).
    r = request("PATCH", url=sim.url, path="/api/connections", body={}, token=token)
    t.ok(r.status == 405 and r.json().get("code") == "method_not_allowed"
         and "GET" in r.headers.get("Allow", "") and "PATCH" not in r.headers.get("Allow", ""),
         "a relayed 405 keeps the sibling's Allow header", (r, r.headers))
    r = request("GET", url=sim.url, path="/api/discovery/servers/x")
    t.ok(r.status == 404 and r.json().get("code"), "deeper paths are relayed: discoveryd's own 404", r)
    r = request("GET", url=sim.url, path="/api/poker/nothing")
    t.eq(r.status, 404, "paths no sibling owns are not relayed")

    # ---- a stream's close is counted (found by an adversarial probe, 4 December) ---------------
    # The stream replaced the connection's close callback, so every stream a viewer
    # closed stayed counted against its address: after 256 of them (the default
    # per-address limit, which sim2 keeps) simd refused every TCP connection from it.
    tank2 = sim2.get("/api/tanks").json()["default_tank_id"]
    for i in range(300):
        s = open_stream(sim2.port, "/api/tanks/%s/stream" % tank2)
        s.recv(1024)  # the head: the stream has started
        s.close()
    wait_until(lambda: metrics(sim2).get("tankworld_http_connections", 99) <= 2, 10, 0.1)
    t.ok(metrics(sim2).get("tankworld_http_connections", 99) <= 2,
         "300 streams opened and closed leave no connection counted",
         metrics(sim2).get("tankworld_http_connections"))
    r = request("GET", url=sim2.url, path="/health")
    t.eq(r.status, 200, "and the address is still served over TCP")
    # HEAD of a stream: the head only, then the connection serves the next request.
    s = socket.create_connection(("127.0.0.1", sim2.port), timeout=10)
    s.sendall(("HEAD /api/tanks/%s/stream HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % tank2).encode())
    buf, deadline = b"", time.time() + 10
    while time.time() < deadline and buf.count(b"HTTP/1.1 ") < 2:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    t.ok(buf.startswith(b"HTTP/1.1 200") and b"text/event-stream" in buf and buf.count(b"HTTP/1.1 200") == 2,
         "HEAD of a stream answers its head and the connection goes on", buf[:300])
    t.eq(metrics(sim2).get("tankworld_sim_stream_clients"), 0.0, "and subscribes no client")

    # A sibling whose answer is over the relay's 4 MiB: it was a 502 "cannot be reached"
    # (found by a probe with 15,000 servers registered), which sent people looking for a
    # dead daemon. A stand-in discoveryd on sim2's socket answers 5 MB.
    class Big(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            data = json.dumps({"servers": [{"server_id": "s%d" % i, "hostname": "h" * 300}
                                           for i in range(16000)]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def address_string(self):
            return "unix"

        def log_message(self, *a):
            pass

    class UnixHTTP(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
        daemon_threads = True
    big_sock = os.path.join(sim2.run_dir, "discoveryd.sock")
    big = UnixHTTP(big_sock, Big)
    threading.Thread(target=big.serve_forever, daemon=True).start()
    r = request("GET", url=sim2.url, path="/api/discovery/servers")
    t.ok(r.status == 502 and r.json().get("code") == "answer_too_large" and "4194304" in r.json().get("error", ""),
         "an answer over the relay's cap is a 502 answer_too_large, saying the cap", r)
    t.ok(sim2.alive(), "and simd is alive")
    big.shutdown()
    os.unlink(big_sock)

    disc.stop()
    r = request("GET", url=sim.url, path="/api/discovery/servers")
    t.ok(r.status == 502 and r.json().get("code") == "sibling_unreachable", "a sibling that is down is a JSON 502", r)
    t.ok(sim.alive(), "simd is alive")
finally:
    for d in (mig, sim, disc, sim2):
        if d.alive():
            rc = d.stop()
            if d in (sim, sim2):
                t.eq(rc, 0, "%s stops cleanly" % d.server_id)
t.done()
