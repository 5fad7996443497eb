#!/usr/bin/env python3
"""make bench: sustained committed migrations per second between two servers on
loopback (target >= 500/s). K paused tanks on each server, each sending to its twin on
the other server at 100% with a short interval, so fish flow both ways for the whole
run. Prints "bench: migrations_per_s_2_servers <value> migrations/s" and fails when a
fish is lost or duplicated, or a daemon dies.

Then the same with the tanks ticking at 30 ticks/s ("..._ticking"): every reservation,
commit and arrival then goes through the tank's gate (simd/gate.c), which a paused
tank skips. Fish are born and die there, so that run checks only that no fish is in
two places once everything is paused and quiet."""
import os
import shutil
import sys
import time

SRCDIR = "%%SRCDIR%%"
sys.path.insert(0, os.path.join(SRCDIR, "tests", "integration"))
if len(sys.argv) > 1:
    os.environ.setdefault("abs_top_builddir", sys.argv[1])

from migratedlib import Cluster, conservation, migrated_built, simd_built  # noqa: E402
from twlib import tmpdir  # noqa: E402

TANKS = int(os.environ.get("BENCH_TANKS", "16"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))


def commits(cl):
    total = 0
    for s in cl.servers:
        for line in s.mig.get("/metrics").body.splitlines():
            if line.startswith("tankworld_migration_commits_total "):
                total += int(float(line.split()[1]))
    return total


def run(ticking):
    name = "migrations_per_s_2_servers" + ("_ticking" if ticking else "")
    root = tmpdir("twmb")
    cl = Cluster(root, 2, "bench-token-0123456789abcdef", extra={
        "migration.check_interval": "0.02", "migration.max_per_second": "100000",
        "migration.per_connection_per_second": "100000", "migration.request_timeout": "5",
        "sim.tick_rate": "30" if ticking else "1", "server.log_level": "notice"})
    s1, s2 = cl.servers
    try:
        cl.start()
        a = [s1.create_tank("bench-a%d" % i, 40, max_fish=100000, paused=not ticking)
             for i in range(TANKS)]
        b = [s2.create_tank("bench-b%d" % i, 40, max_fish=100000, paused=not ticking)
             for i in range(TANKS)]
        expected = set()
        for p in cl.places():
            expected |= set(p)
        for i in range(TANKS):
            for src, dst, srv, dsrv in ((a[i], b[i], s1, "s2"), (b[i], a[i], s2, "s1")):
                r = srv.mig.post("/api/connections", {"id": "bench-%d" % i, "sourceId": src, "destinationId": dst,
                                                      "destinationServerId": dsrv,
                                                      "probability": 100})
                if r.status != 201:
                    print("cannot create a connection: %r" % r, file=sys.stderr)
                    return 1
        time.sleep(2)  # warm up
        c0, t0 = commits(cl), time.time()
        time.sleep(SECONDS)
        c1, t1 = commits(cl), time.time()
        rate = (c1 - c0) / (t1 - t0)
        print("bench: %s %.1f migrations/s" % (name, rate), flush=True)
        cl.delete_all_connections()
        if ticking:
            for srv, tanks in ((s1, a), (s2, b)):
                for tid in tanks:
                    srv.sim.post("/api/tanks/%s/pause" % tid)
        if not cl.quiesce(120):
            print("FAIL: transfers still in flight after the run", file=sys.stderr)
            return 1
        lost, dup, unexpected = conservation(cl.places(), expected)
        if ticking:
            lost, unexpected = [], []  # births and deaths
        if lost or dup or unexpected:
            print("FAIL: lost %d, duplicated %d, unexpected %d" % (len(lost), len(dup), len(unexpected)),
                  file=sys.stderr)
            return 1
        dead = [d.name for s in cl.servers for d in s.daemons.values() if not d.alive()]
        if dead:
            print("FAIL: daemons died: %s" % dead, file=sys.stderr)
            return 1
        return 0
    finally:
        cl.stop()
        shutil.rmtree(root, ignore_errors=True)


def main():
    if not simd_built() or not migrated_built():
        print("bench: migrations_per_s_2_servers skipped (simd or migrated not built)")
        return 0
    return run(False) or run(True)


if __name__ == "__main__":
    sys.exit(main())
