#!/usr/bin/env python3
"""Fish never go to the original silently: a destination whose /api/servers/local answers
like the original's (no discovery_port, no migration_port) gets no fish. migrated refuses
each transfer with a clear error, the fish go home and the connection pauses; the
original's /api/remote-transfer is never called."""
import time

from migratedlib import Cluster, conservation
from twlib import StubServer, Tap, tmpdir, wait_until

t = Tap()
root = tmpdir("twlo")


class Original:
    """Just enough of the original server: its ServerInfo and a counted remote-transfer."""

    def __init__(self):
        self.posts = 0
        self.info_gets = 0
        self.stub = StubServer(self.route)
        self.port = self.stub.port

    def route(self, method, path, body):
        if method == "GET" and path == "/api/servers/local":
            self.info_gets += 1
            return 200, self.info()
        if method == "GET":
            return 404, {"detail": "Not Found"}
        if path.startswith("/api/remote-transfer"):
            self.posts += 1
        return 500, {"error": "Failed to deserialize entity"}

    def info(self):
        # The original's ServerInfo (spec §1.2): no discovery_port, no migration_port.
        return {"server_id": "orig-1", "hostname": "old-box", "host": "127.0.0.1", "port": self.port,
                "status": "online", "tank_count": 1, "version": "1.0.0", "uptime_seconds": 5.0,
                "cpu_percent": None, "memory_mb": None, "is_local": True, "platform": "Linux",
                "architecture": "x86_64", "hardware_model": None, "logical_cpus": 2,
                "last_seen": None}

    def close(self):
        self.stub.close()


orig = Original()
cl = Cluster(root, 1, "legacy-out-token-0123456789abcd", extra={"migration.check_interval": "0.5"})
try:
    cl.start()
    s1 = cl.servers[0]
    r = s1.disc.post("/api/discovery/register", orig.info())
    t.ok(r.status == 200, "the original's ServerInfo registers with our discoveryd", r)
    A = s1.create_tank("A", 10)
    expected = set(cl.places()[0])
    r = s1.mig.post("/api/connections", {"source_tank_id": A, "destination_tank_id": "1", "source_server_id": "s1",
                                         "destination_server_id": "orig-1", "probability": 100,
                                         "direction": "right"})
    t.ok(r.status == 201, "a connection to the original's tank", r)

    def refused():
        tr = s1.mig.get("/api/transfers?limit=50").json()["transfers"]
        return [x for x in tr if "answers like the original" in (x.get("error") or "")]
    t.ok(wait_until(lambda: refused(), 30, 0.2), "a transfer is refused with a clear error",
         s1.mig.get("/api/transfers").body)
    got = refused()
    t.ok(got and got[0].get("success") is False, "recorded as failed", got[:1])
    t.ok(orig.info_gets >= 1, "migrated asked the destination's /api/servers/local")
    time.sleep(1.5)
    t.eq(orig.posts, 0, "the original's /api/remote-transfer was never called")
    s1.mig.delete("/api/connections/" + r.json()["id"].replace(">", "%3E"))
    t.ok(cl.quiesce(30), "nothing in flight")
    lost, dup, unexpected = conservation(cl.places(), expected)
    t.ok(not lost and not dup and not unexpected, "every fish is home, once", (lost, dup, unexpected))
finally:
    cl.stop()
    orig.close()
t.done()
