"""Helpers for migrated's integration tests.

FakeSimd speaks simd's side of docs/simd-protocol.md (tanks, outbox reserve/commit/
abort/attempt, local moves, exits, remote-transfer with idempotency, inbox and its
forget) over a Unix socket and TCP, holding fish as opaque JSON, with switches to
inject faults: refuse, stall, drop the answer after doing the work, answer 5xx or a
bogus 200. It lets the delivery logic be tested exactly, without the real simulation.

Cluster starts real daemons (discoveryd, simd, migrated) for one or more servers and
offers the audits the tests share (every fish exactly once)."""

import http.server
import json
import os
import random
import socket
import socketserver
import threading
import time
import uuid

from twlib import BUILD, Daemon, base_ports, wait_until, write_token


def simd_built():
    return os.path.exists(os.path.join(BUILD, "simd", "simd"))


def migrated_built():
    return os.path.exists(os.path.join(BUILD, "migrated", "migrated"))


def iso_now():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)


def new_fish(i=0):
    fid = str(uuid.uuid4())
    return {"type": "fish", "id": fid, "x": 10.0 + i, "y": 20.0, "vel_x": 1.5, "vel_y": -0.5,
            "energy": 50.0 + i, "generation": i % 4,
            "genome_data": {"speed_modifier": 1.1, "size_modifier": 0.9, "color_hue": random.random()},
            "memory": {"food_memories": [[1, 2]], "predator_last_seen": 7}}


class FakeSimd:
    """A stand-in for simd, thread-safe, in this process."""

    def __init__(self, server_id, sock_path, tcp_port=0, token=None):
        self.server_id = server_id
        self.sock_path = sock_path
        self.token = token
        self.lock = threading.RLock()
        self.tanks = {}      # tank_id -> dict(name, max_fish, allow_transfers, paused, fish{}, exits)
        self.outbox = {}     # transfer_id -> record (with entity_data)
        self.inbox = {}      # transfer_id -> answer
        self.forgotten = {}  # transfer_id -> answer, once the source's forget came
        self.calls = []      # (method, path, status)
        self.excepts = []    # (source tank, the "except" list) of each pick given one
        # Fault switches, consulted per request: fn(method, path, body) -> action or None.
        # Actions: ("status", code, body) answer that; ("drop",) do the work, then close the
        # connection without answering; ("stall", seconds) sleep before handling;
        # ("close",) close without doing anything.
        self.fault = None
        self.tcp_port = tcp_port
        self.unix_server = None
        self.tcp_server = None
        self.running = False
        self.conns = set()

    # ---- state helpers for tests ----
    def add_tank(self, tank_id=None, fish=0, max_fish=100, allow_transfers=True, name=None):
        tid = tank_id or str(uuid.uuid4())
        with self.lock:
            self.tanks[tid] = {"name": name or ("tank-" + tid[:8]), "max_fish": max_fish,
                               "allow_transfers": allow_transfers, "paused": False, "fish": {},
                               "exits": {"left": None, "right": None}}
            for i in range(fish):
                f = new_fish(i)
                self.tanks[tid]["fish"][f["id"]] = f
        return tid

    def fish_ids(self, tank_id):
        with self.lock:
            return set(self.tanks[tank_id]["fish"].keys())

    def all_fish(self):
        """fish id -> list of places ('tank:<id>' or 'outbox:<tid>')."""
        out = {}
        with self.lock:
            for tid, t in self.tanks.items():
                for fid in t["fish"]:
                    out.setdefault(fid, []).append("%s/tank:%s" % (self.server_id, tid))
            for xid, rec in self.outbox.items():
                out.setdefault(rec["fish_id"], []).append("%s/outbox:%s" % (self.server_id, xid))
        return out

    def exit_fish(self, tank_id, wall):
        """A fish swims through an open wall: it moves into the outbox (boundary exit)."""
        with self.lock:
            t = self.tanks[tank_id]
            ex = t["exits"][wall]
            if not ex or not t["fish"]:
                return None
            fid = sorted(t["fish"])[0]
            fish = t["fish"].pop(fid)
            xid = str(uuid.uuid4())
            self.outbox[xid] = {"transfer_id": xid, "fish_id": fid, "source_tank_id": tank_id,
                                "destination_server_id": ex["destination_server_id"],
                                "destination_tank_id": ex["destination_tank_id"],
                                "connection_id": ex.get("connection_id"), "created_at": iso_now(),
                                "attempts": 0, "entity_data": fish}
            return xid

    def count(self, method, prefix):
        with self.lock:
            return sum(1 for m, p, s in self.calls if m == method and p.startswith(prefix))

    # ---- the protocol ----
    def pick(self, t, body, where):
        """The fish a move or reservation takes: fish_id, or a random one not in "except"
        (each except list is kept, with where it was sent, in self.excepts)."""
        if body.get("fish_id"):
            return body["fish_id"]
        ex = body.get("except")
        if ex is not None:
            self.excepts.append((where, list(ex)))
        cands = [f for f in t["fish"] if f not in set(ex or ())]
        return random.choice(cands) if cands else None

    def tank_status(self, tid):
        t = self.tanks[tid]
        return {"tank": {"tank_id": tid, "name": t["name"], "description": "", "created_at": iso_now(),
                         "server_id": self.server_id, "is_public": True,
                         "allow_transfers": t["allow_transfers"], "max_fish": t["max_fish"], "seed": 1},
                "running": True, "paused": t["paused"], "frame": 1, "fps": 30.0,
                "stats": {"fish_count": len(t["fish"]),
                          "in_transit": sum(1 for r in self.outbox.values() if r["source_tank_id"] == tid)}}

    def handle(self, method, path, body, over_unix, headers):
        """Returns (status, json)."""
        p = path.split("?")[0].rstrip("/").split("/")[1:]
        err = lambda st, code, msg: (st, {"error": msg, "code": code})
        with self.lock:
            if method == "GET" and p == ["health"]:
                return 200, {"status": "healthy", "service": "fake-simd"}
            if method == "GET" and p == ["api", "tanks"]:
                ts = [self.tank_status(t) for t in self.tanks]
                return 200, {"tanks": ts, "count": len(ts), "default_tank_id": None}
            if len(p) >= 3 and p[:2] == ["api", "tanks"]:
                tid = p[2]
                if tid not in self.tanks:
                    return err(404, "unknown_tank", "Tank not found: " + tid)
                t = self.tanks[tid]
                if method == "GET" and len(p) == 3:
                    return 200, self.tank_status(tid)
                if method == "DELETE" and len(p) == 3:
                    del self.tanks[tid]
                    return 200, {"message": "Tank deleted"}
                if method == "GET" and p[3:] == ["state"]:
                    ents = [{"kind": "fish", "id": f, "x": 1, "y": 1} for f in t["fish"]]
                    ents.append({"kind": "food", "id": "food-1", "x": 1, "y": 1})
                    return 200, {"tank_id": tid, "frame": 1, "entities": ents}
                if method == "GET" and len(p) == 5 and p[3] == "fish":
                    f = t["fish"].get(p[4])
                    return (200, f) if f else err(404, "unknown_fish", "no such fish")
                if method == "PUT" and p[3:] == ["exits"]:
                    if not over_unix:
                        return err(404, "not_found", "unix only")
                    for k in ("left", "right"):
                        if k in body:
                            t["exits"][k] = body[k]
                    return 200, {"tank_id": tid, "exits": t["exits"]}
                if method == "POST" and p[3:] in (["pause"], ["resume"]):
                    t["paused"] = p[3] == "pause"
                    return 200, self.tank_status(tid)
                if method == "POST" and p[3:] == ["move"]:
                    dst = body.get("destination_tank_id")
                    if dst not in self.tanks:
                        return err(404, "unknown_tank", "no destination")
                    d = self.tanks[dst]
                    if not t["allow_transfers"] or not d["allow_transfers"]:
                        return err(403, "transfers_disabled", "transfers disabled")
                    if len(d["fish"]) >= d["max_fish"]:
                        return err(409, "tank_full", "destination full")
                    fid = self.pick(t, body, tid)
                    if not fid or fid not in t["fish"]:
                        return err(409, "no_fish", "no fish")
                    d["fish"][fid] = t["fish"].pop(fid)
                    return 200, {"transfer_id": str(uuid.uuid4()), "fish_id": fid,
                                 "source_tank_id": tid, "destination_tank_id": dst}
            if p[:2] == ["api", "outbox"]:
                if method == "GET" and len(p) == 2:
                    lst = [{k: v for k, v in r.items() if k != "entity_data"} for r in self.outbox.values()]
                    return 200, {"transfers": lst, "count": len(lst)}
                if not over_unix:
                    return err(404, "not_found", "unix only")
                if method == "POST" and p[2:] == ["reserve"]:
                    tid = body.get("source_tank_id")
                    if tid not in self.tanks:
                        return err(404, "unknown_tank", "no such tank")
                    t = self.tanks[tid]
                    if not t["allow_transfers"]:
                        return err(403, "transfers_disabled", "disabled")
                    fid = self.pick(t, body, tid)
                    if not fid or fid not in t["fish"]:
                        return err(409, "no_fish", "no fish")
                    fish = t["fish"].pop(fid)
                    xid = str(uuid.uuid4())
                    rec = {"transfer_id": xid, "fish_id": fid, "source_tank_id": tid,
                           "destination_server_id": body["destination_server_id"],
                           "destination_tank_id": body["destination_tank_id"],
                           "connection_id": body.get("connection_id"), "created_at": iso_now(),
                           "attempts": 0, "entity_data": fish}
                    self.outbox[xid] = rec
                    return 200, dict(rec)
                if len(p) >= 3:
                    xid = p[2]
                    rec = self.outbox.get(xid)
                    if not rec:
                        return err(404, "unknown_transfer", "no such transfer")
                    if method == "GET" and len(p) == 3:
                        return 200, dict(rec)
                    if method == "POST" and p[3:] == ["attempt"]:
                        rec["attempts"] += 1
                        return 200, {k: v for k, v in rec.items() if k != "entity_data"}
                    if method == "POST" and p[3:] == ["commit"]:
                        del self.outbox[xid]
                        return 200, {"transfer_id": xid, "state": "committed"}
                    if method == "POST" and p[3:] == ["abort"]:
                        del self.outbox[xid]
                        src = self.tanks.get(rec["source_tank_id"])
                        if src is not None:
                            src["fish"][rec["fish_id"]] = rec["entity_data"]
                        return 200, {"transfer_id": xid, "state": "aborted", "fish_id": rec["fish_id"]}
            if method == "POST" and p == ["api", "remote-transfer"]:
                if not over_unix and self.token:
                    if headers.get("Authorization") != "Bearer " + self.token:
                        return err(401, "unauthorized", "token")
                xid = body.get("transfer_id")
                if xid in self.inbox:
                    return 200, self.inbox[xid]
                dst = body.get("destination_tank_id")
                ent = body.get("entity_data")
                if not isinstance(ent, dict) or "id" not in ent:
                    return err(400, "invalid_entity", "bad entity")
                if dst not in self.tanks:
                    return err(404, "unknown_tank", "Destination tank not found: %s" % dst)
                d = self.tanks[dst]
                if not d["allow_transfers"]:
                    return err(403, "transfers_disabled", "disabled")
                if len(d["fish"]) >= d["max_fish"]:
                    return err(409, "tank_full", "full")
                for t in self.tanks.values():
                    if ent["id"] in t["fish"]:
                        return err(409, "duplicate_fish", "already here")
                d["fish"][ent["id"]] = ent
                ans = {"success": True, "message": "Entity transferred", "transfer_id": xid,
                       "entity": {"old_id": ent["id"], "new_id": ent["id"], "type": "fish",
                                  "source_server": body.get("source_server_id"),
                                  "source_tank": body.get("source_tank_id"), "destination_tank": dst}}
                self.inbox[xid] = ans
                return 200, ans
            if method in ("GET", "DELETE") and p[:2] == ["api", "inbox"] and len(p) == 3:
                if p[2] not in self.inbox:
                    return err(404, "unknown_transfer", "unknown")
                if method == "DELETE":  # a forget: the source committed it
                    self.forgotten[p[2]] = self.inbox.pop(p[2])
                    return 200, {"transfer_id": p[2], "forgotten": True}
                return 200, {"transfer_id": p[2]}
        return err(404, "not_found", "no such endpoint " + path)

    # ---- serving ----
    def _handler_class(self, over_unix):
        fake = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def address_string(self):
                return "unix" if over_unix else super().address_string()

            def setup(self):
                super().setup()
                with fake.lock:
                    fake.conns.add(self.connection)

            def finish(self):
                try:
                    super().finish()
                except OSError:
                    pass
                with fake.lock:
                    fake.conns.discard(self.connection)

            def _do(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    body = None
                action = fake.fault(self.command, self.path, body) if fake.fault else None
                if action and action[0] == "stall":
                    time.sleep(action[1])
                    action = None
                if action and action[0] == "close":
                    self.close_connection = True
                    return
                if action and action[0] == "status":
                    st, js = action[1], action[2]
                elif body is None:
                    st, js = 400, {"error": "bad json", "code": "invalid_json"}
                else:
                    st, js = fake.handle(self.command, self.path, body, over_unix, self.headers)
                with fake.lock:
                    fake.calls.append((self.command, self.path, st))
                if action and action[0] == "drop":
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                data = json.dumps(js).encode()
                try:
                    self.send_response(st)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up (a timeout): fine
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = _do

        return H

    def start(self):
        # socketserver listens with a backlog of 5. migrated opens more connections than
        # that at once when it starts (the tank list, every tank's exits, a pass), and a
        # full Unix-socket backlog refuses at once: a loaded machine, where this thread
        # accepts late, made migrated see "simd is not answering" for 70 ms (a CI run of
        # 5 December lost a connection the test then made). simd's own backlog is the
        # kernel's maximum.
        class US(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True
            request_queue_size = 128

            def handle_error(self, request, client_address):
                pass

        class TS(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 128

            def handle_error(self, request, client_address):
                pass

        os.makedirs(os.path.dirname(self.sock_path), exist_ok=True)
        if os.path.exists(self.sock_path):
            os.unlink(self.sock_path)
        self.unix_server = US(self.sock_path, self._handler_class(True))
        self.tcp_server = TS(("127.0.0.1", self.tcp_port), self._handler_class(False))
        self.tcp_port = self.tcp_server.server_address[1]
        for s in (self.unix_server, self.tcp_server):
            threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.running = True
        return self

    def stop(self):
        """Stop serving (connections are refused afterwards); state is kept, as a
        journaled simd keeps it over a restart."""
        for s in (self.unix_server, self.tcp_server):
            if s:
                s.shutdown()
                s.server_close()
        # Kept-alive connections are served by their own threads: cut them too, as the
        # death of a process would.
        with self.lock:
            for c in list(self.conns):
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.conns.clear()
        if os.path.exists(self.sock_path):
            os.unlink(self.sock_path)
        self.unix_server = self.tcp_server = None
        self.running = False


def server_info(server_id, port):
    return {"server_id": server_id, "hostname": "h-" + server_id, "host": "127.0.0.1",
            "port": port, "discovery_port": 1, "migration_port": 2, "tank_count": 1,
            "version": "t", "uptime_seconds": 1, "platform": "Linux", "architecture": "x86_64",
            "logical_cpus": 1}


class FakeServers:
    """Servers a test makes up (a proxy in front of a simd, a port nobody answers on),
    registered in one discoveryd and heartbeated every second while they are listed, as
    a real server's discoveryd would. One registered once goes offline after
    heartbeat_timeout (5 s in a Cluster), and a loaded machine (the sanitizer build in
    CI) outlasts that between two steps: its walls close and nothing crosses."""

    def __init__(self, disc):
        self.disc = disc
        self.ports = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)
        self.thread.start()

    # The lock is held over the requests too: a beat with a server's old port must not
    # land after register() gave it a new one.
    def register(self, server_id, port):
        with self.lock:
            self.ports[server_id] = port
            return self.disc.post("/api/discovery/register", server_info(server_id, port))

    def unregister(self, server_id):
        with self.lock:
            self.ports.pop(server_id, None)
            return self.disc.delete("/api/discovery/unregister/" + server_id)

    def _beat(self):
        while not self.stopping.wait(1):
            with self.lock:
                for sid, port in self.ports.items():
                    try:
                        self.disc.post("/api/discovery/heartbeat/" + sid, server_info(sid, port))
                    except OSError:
                        pass  # discoveryd is stopping with the cluster

    def close(self):
        self.stopping.set()
        self.thread.join()


def conservation(places_by_server, expected_ids):
    """places_by_server: list of dicts fish id -> [places]. Returns (lost, duplicated,
    unexpected) lists."""
    seen = {}
    for d in places_by_server:
        for fid, places in d.items():
            seen.setdefault(fid, []).extend(places)
    lost = sorted(f for f in expected_ids if f not in seen)
    dup = sorted((f, seen[f]) for f in seen if len(seen[f]) > 1)
    unexpected = sorted(f for f in seen if f not in expected_ids)
    return lost, dup, unexpected


def servers_quiet(servers, timeout=60, interval=0.1):
    """Wait until no server's migrated has a transfer in flight and no simd's outbox
    holds a fish."""
    def idle():
        for s in servers:
            r = s.mig.get("/api/migrations")
            if r.status != 200 or r.json()["in_flight"] != 0 or s.outbox_count() != 0:
                return False
        return True
    return wait_until(idle, timeout, interval)


def quiesce(migrateds, timeout=30):
    """Wait until no migrated has a transfer in flight."""
    def idle():
        for m in migrateds:
            r = m.get("/api/migrations")
            if r.status != 200 or r.json()["in_flight"] != 0:
                return False
        return True
    return wait_until(idle, timeout, 0.1)


def metric(daemon, name):
    r = daemon.get("/metrics")
    for line in r.body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


# ---- real clusters (discoveryd + simd + migrated per server) ----

class Server:
    """One server: its three daemons in root/<server_id>, sharing one config."""

    def __init__(self, root, server_id, base_port, extra):
        self.id = server_id
        self.root = os.path.join(root, server_id)
        self.base_port = base_port
        self.disc = Daemon("discoveryd", self.root, server_id, base_port, extra=extra)
        self.sim = Daemon("simd", self.root, server_id, base_port, extra=extra)
        self.mig = Daemon("migrated", self.root, server_id, base_port, extra=extra)
        self.daemons = {"discoveryd": self.disc, "simd": self.sim, "migrated": self.mig}

    def start(self):
        for d in (self.disc, self.sim, self.mig):
            d.start()
        return self

    def stop(self):
        for d in (self.mig, self.sim, self.disc):
            if d.alive():
                d.stop()

    def tanks(self):
        r = self.sim.get("/api/tanks")
        return r.json()["tanks"] if r.status == 200 else []

    def create_tank(self, name, fish, max_fish=200, paused=True):
        r = self.sim.post("/api/tanks", {"name": name, "initial_fish": fish, "max_fish": max_fish,
                                         "paused": paused})
        if r.status != 201:
            raise RuntimeError("cannot create a tank on %s: %r" % (self.id, r))
        return r.json()["tank"]["tank_id"]

    def fish_places(self, kinds=("fish",)):
        """fish id -> places, from every tank's state and the outbox. None when simd
        does not answer. kinds=("fish", "plant") counts migrating plants too."""
        out = {}
        r = self.sim.get("/api/tanks")
        if r.status != 200:
            return None
        for ts in r.json()["tanks"]:
            tid = ts["tank"]["tank_id"]
            st = self.sim.get("/api/tanks/%s/state" % tid, timeout=30)
            if st.status != 200:
                return None
            for e in st.json()["entities"]:
                if e.get("kind") in kinds:
                    out.setdefault(e["id"], []).append("%s/tank:%s" % (self.id, tid))
        r = self.sim.get("/api/outbox")
        if r.status != 200:
            return None
        for x in r.json()["transfers"]:
            if x.get("kind", "fish") in kinds:
                out.setdefault(x["fish_id"], []).append("%s/outbox:%s" % (self.id, x["transfer_id"]))
        return out

    def pause_all(self):
        for ts in self.tanks():
            self.sim.post("/api/tanks/%s/pause" % ts["tank"]["tank_id"])

    def outbox_count(self, source_tank_id=None):
        """Transfers in simd's outbox (of one source tank when given); None if no answer."""
        r = self.sim.get("/api/outbox")
        if r.status != 200:
            return None
        if source_tank_id is None:
            return r.json()["count"]
        return sum(1 for x in r.json()["transfers"] if x.get("source_tank_id") == source_tank_id)


class Cluster:
    """n servers on loopback; the first is discoveryd's hub, the others its workers, so
    every server learns every other. One cluster token; short heartbeats."""

    def __init__(self, root, n, token, extra=None, names=None):
        self.root = root
        write_token(os.path.join(root, "token"), token)
        self.token = token
        ports = base_ports(n)
        names = names or ["s%d" % (i + 1) for i in range(n)]
        common = {"security.token_file": os.path.join(root, "token"),
                  "discovery.heartbeat_interval": "0.5", "discovery.heartbeat_timeout": "5",
                  "discovery.evict_after": "3600", "migration.request_timeout": "1",
                  "sim.tick_rate": "10"}
        common.update(extra or {})
        self.servers = []
        for i, (sid, port) in enumerate(zip(names, ports)):
            e = dict(common)
            if i > 0:
                e["discovery.hub_url"] = "http://127.0.0.1:%d" % ports[0]
            self.servers.append(Server(root, sid, port, e))

    def start(self):
        for s in self.servers:
            s.start()
        ids = [s.id for s in self.servers]

        def everyone_knows():
            for s in self.servers:
                r = s.disc.get("/api/discovery/servers")
                if r.status != 200:
                    return False
                known = {x["server_id"] for x in r.json()["servers"]}
                if not set(ids) <= known:
                    return False
            return True
        if not wait_until(everyone_knows, 30, 0.1):
            raise RuntimeError("servers did not learn each other")
        # The default tanks too: paused tanks have no births or deaths, so the set of
        # fish ids is fixed and every audit is exact.
        for s in self.servers:
            s.pause_all()
        return self

    def stop(self):
        for s in self.servers:
            s.stop()

    def stop_checked(self, t):
        """SIGTERM every daemon of every server: one result each, that it exits 0."""
        for s in self.servers:
            for name, d in s.daemons.items():
                t.eq(d.stop(), 0, "%s %s exits 0 on SIGTERM" % (s.id, name))

    def places(self, kinds=("fish",)):
        out = []
        for s in self.servers:
            p = s.fish_places(kinds)
            if p is None:
                return None
            out.append(p)
        return out

    def quiesce(self, timeout=60):
        return servers_quiet(self.servers, timeout, 0.2)

    def delete_all_connections(self):
        for s in self.servers:
            for c in s.mig.get("/api/connections").json()["connections"]:
                s.mig.delete("/api/connections/" + c["id"].replace(">", "%3E"))


class LossyProxy:
    """A TCP proxy for HTTP/1.1 in front of a destination simd. It forwards every
    request; for remote-transfer requests it can drop the answer (the destination did
    the work, the sender never hears of it) or hold it for a while.

    alias=(name, server_id): the proxy is registered as server `name`, a second way to
    reach the simd of `server_id`, and renames the destination of each transfer so.
    simd answers a transfer that names another server 421 wrong_server."""

    def __init__(self, upstream_port, alias=None):
        self.upstream = ("127.0.0.1", upstream_port)
        self.alias = alias
        self.drop = 0      # answers of remote-transfer still to drop
        self.hold = 0.0    # seconds to hold each remote-transfer answer
        self.forwarded = 0
        self.dropped = 0
        self.lock = threading.Lock()
        proxy = self

        class H(socketserver.BaseRequestHandler):
            def handle(self):
                up = None
                try:
                    while True:
                        req = _read_http(self.request)
                        if req is None:
                            return
                        if up is None:
                            up = socket.create_connection(proxy.upstream, timeout=30)
                        if proxy.alias:
                            req = _rename_destination(req, *proxy.alias)
                        up.sendall(req)
                        resp = _read_http(up)
                        if resp is None:
                            return
                        is_rt = b" /api/remote-transfer " in req.split(b"\r\n", 1)[0]
                        with proxy.lock:
                            proxy.forwarded += 1
                            dropping = is_rt and proxy.drop > 0
                            if dropping:
                                proxy.drop -= 1
                                proxy.dropped += 1
                            hold = proxy.hold if is_rt else 0
                        if dropping:
                            return
                        if hold:
                            time.sleep(hold)
                        self.request.sendall(resp)
                except OSError:
                    return
                finally:
                    if up:
                        up.close()

        class S(socketserver.ThreadingMixIn, socketserver.TCPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 128  # as FakeSimd's servers

            def handle_error(self, request, client_address):
                pass

        self.server = S(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _rename_destination(req, name, server_id):
    """A remote-transfer request for server `name` made one for `server_id`."""
    head, body = req.split(b"\r\n\r\n", 1)
    if b" /api/remote-transfer " not in head.split(b"\r\n", 1)[0]:
        return req
    o = json.loads(body)
    if o.get("destination_server_id") == name:
        o["destination_server_id"] = server_id
    body = json.dumps(o).encode()
    lines = [ln for ln in head.split(b"\r\n") if not ln.lower().startswith(b"content-length:")]
    lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _read_http(sock):
    """One HTTP/1.1 message (headers and a Content-Length body), or None at EOF."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    n = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v.strip())
    while len(rest) < n:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        rest += chunk
    return head + b"\r\n\r\n" + rest[:n]
