#!/usr/bin/env python3
"""The status document's scenario, strict: two servers (discoveryd, simd, migrated
each), a remote connection at 100% with a short interval; a migration is detected
within two intervals; the fish that arrived on server 2 has the same id and the same
genome, memory and energy as it had on server 1; with both tanks paused the total is
exactly conserved (and every fish id is in exactly one place); the history on both
sides agrees."""
import shutil
import time

from migratedlib import Cluster, conservation, migrated_built, simd_built
from twlib import Tap, tmpdir, wait_until

if not simd_built() or not migrated_built():
    print("1..0 # SKIP simd not built" if not simd_built() else "1..0 # SKIP migrated not built")
    raise SystemExit(0)

t = Tap()
INTERVAL = 1.0
root = tmpdir("twms")
cl = Cluster(root, 2, "scenario-token-0123456789abcdef",
             extra={"migration.check_interval": str(INTERVAL)})
s1, s2 = cl.servers
STRICT = ("id", "genome", "memory", "energy", "max_energy", "generation", "age", "max_age",
          "base_speed", "pregnancy", "stats", "mother_id", "father_id")
try:
    cl.start()
    A = s1.create_tank("scenario-A", 20, paused=True)
    B = s2.create_tank("scenario-B", 5, paused=True)
    t.ok(A and B, "a paused tank on each server")

    before = cl.places()
    expected = set().union(*[set(p) for p in before])
    total_before = len(expected)
    a_fish = {f for f, where in before[0].items() if where == ["s1/tank:%s" % A]}
    t.eq(len(a_fish), 20, "20 fish in A")
    captured = {f: s1.sim.get("/api/tanks/%s/fish/%s" % (A, f)).json() for f in a_fish}
    t.ok(all(c.get("id") == f for f, c in captured.items()), "full JSON of every fish in A captured")

    r = s1.mig.post("/api/connections", {
        "source_tank_id": A, "destination_tank_id": B, "source_server_id": "s1",
        "destination_server_id": "s2", "probability": 100, "direction": "right"})
    t.ok(r.status == 201 and r.json().get("id"), "remote connection created on s1", r)
    created = time.time()

    def migrated_once():
        a = s1.sim.get("/api/tanks/" + A).json()["stats"]["fish_count"]
        b = s2.sim.get("/api/tanks/" + B).json()["stats"]["fish_count"]
        return a < 20 and b > 5
    seen = wait_until(migrated_once, 2 * INTERVAL + 5, 0.02)
    took = time.time() - created
    t.ok(seen and took <= 2 * INTERVAL + 0.3,
         "migration detected within two intervals (%.2f s, interval %.1f s)" % (took, INTERVAL))

    # Let a few more go, then stop the connection and let everything settle.
    time.sleep(3 * INTERVAL)
    t.eq(s1.mig.delete("/api/connections/" + r.json()["id"].replace(">", "%3E")).status, 200,
         "connection deleted")
    t.ok(cl.quiesce(30), "nothing in flight, outboxes empty")

    after = cl.places()
    lost, dup, unexpected = conservation(after, expected)
    t.ok(not lost and not dup and not unexpected, "every fish id exactly once",
         "lost %s dup %s unexpected %s" % (lost, dup, unexpected))
    t.eq(sum(len(p) for p in after), total_before, "the total is exactly conserved (%d)" % total_before)
    arrived = {f for f, where in after[1].items() if f in a_fish}
    t.ok(len(arrived) >= 2, "%d fish went from s1:A to s2:B, keeping their ids" % len(arrived))
    same = True
    for f in arrived:
        got = s2.sim.get("/api/tanks/%s/fish/%s" % (B, f)).json()
        for k in STRICT:
            if captured[f].get(k) != got.get(k):
                same = False
                t.diag("fish %s field %s: %r != %r" % (f, k, captured[f].get(k), got.get(k)))
        other = [k for k in captured[f] if k not in STRICT and captured[f][k] != got.get(k)]
        if other:
            t.diag("fish %s: also changed (placement): %s" % (f, ", ".join(other)))
    t.ok(same, "every arrived fish has the same id, genome, memory and energy")

    hist = s1.mig.get("/api/transfers?tank_id=" + A + "&limit=1000").json()["transfers"]
    committed = [x for x in hist if x["state"] == "committed"]
    t.eq({x["entity_old_id"] for x in committed}, arrived, "s1's history names exactly those fish")
    t.ok(all(x["entity_new_id"] == x["entity_old_id"] and x["destination_server_id"] == "s2"
             for x in committed), "old id == new id, destination s2")
    # After each commit migrated tells s2 to forget the transfer (it is never sent again).
    inbox_ok = wait_until(lambda: all(s2.sim.get("/api/inbox/" + x["transfer_id"]).status == 404
                                      for x in committed), 5)
    t.ok(inbox_ok, "s2's inbox has forgotten every committed transfer_id")
    st = s1.mig.get("/api/tanks/%s/transfer-stats" % A).json()
    t.ok(st["transfers_out_success"] == len(arrived) and st["transfers_out_failed"] == 0,
         "transfer-stats of A", st)
    cl.stop_checked(t)
finally:
    if t.failed:
        for s in cl.servers:
            t.diag("--- %s migrated\n%s" % (s.id, s.mig.log_tail(30)))
    cl.stop()
    shutil.rmtree(root, ignore_errors=True)
t.done()
