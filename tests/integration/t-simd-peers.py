#!/usr/bin/env python3
"""simd takes fish only from the servers its discoveryd knows (registry.journal), and
reads what the journal gained since its last read, not the whole file, for each sender
it does not know yet: a hostile peer's audit held simd's event loop 0.7-2.3 s per fish
from an unknown sender while a token holder's registrations kept changing a registry of
60,000 servers. Checked through /metrics' count of whole and appended reads (no timing):
new servers, removals, a torn end cut by discoveryd's restart, an edit in place and a
compaction (another file) still read right."""
import json
import os
import uuid

from twlib import Daemon, Tap, base_ports, crc32c, finish, metric_sum, tmpdir, wait_until

def state_line_raw(text):
    """A registry journal line (lines.h) for the JSON text."""
    return b"%08x %d %s" % (crc32c(text), len(text), text)


t = Tap()
root = tmpdir("peers")
port = base_ports(1)[0]
disc = Daemon("discoveryd", root, "peers-a", port)
simd = Daemon("simd", root, "peers-a", port)
journal = os.path.join(simd.state_dir, "discovery", "registry.journal")
try:
    disc.start()
    simd.start()
    r = simd.post("/api/tanks", {"name": "dest", "initial_fish": 2, "max_fish": 500})
    tank = r.json()["tank"]["tank_id"]
    fid = [e for e in simd.get("/api/tanks/%s/state" % tank).json()["entities"] if e["kind"] == "fish"][0]["id"]
    fish = simd.get("/api/tanks/%s/fish/%s" % (tank, fid)).json()

    def send(source):
        body = {"transfer_id": str(uuid.uuid4()), "destination_tank_id": tank, "source_server_id": source,
                "source_tank_id": str(uuid.uuid4()), "entity_data": dict(fish, id=str(uuid.uuid4()))}
        return simd.post("/api/remote-transfer", body).status

    def register(sid):
        return disc.post("/api/discovery/register", {"server_id": sid, "hostname": "h" * 200,
                                                    "host": "127.0.0.1", "port": 9001}).status

    def reads(part):
        return metric_sum(simd, 'tankworld_sim_registry_reads_total{part="%s"}' % part)

    t.ok(all(register("bulk-%d" % i) == 200 for i in range(800)), "800 servers registered")
    t.ok(wait_until(lambda: send("bulk-799") == 200, 10), "a fish from one of them is taken")
    t.eq(reads("whole"), 1, "after one read of the whole registry")
    size = os.path.getsize(journal)

    # discoveryd writes its journal a moment after it answers: each fish is sent until
    # the registration is there.
    late_ok = ghost_refused = 0
    for i in range(20):
        register("late-%d" % i)
        late_ok += wait_until(lambda: send("late-%d" % i) == 200, 10)
        ghost_refused += send("ghost-%d" % i) == 403
    t.eq(late_ok, 20, "a server registered after the first read: its fish are taken, 20 times in a row")
    t.eq(ghost_refused, 20, "a server no one registered: refused (403 unknown_server) each time")
    t.eq(reads("whole"), 1, "the registry was not read whole again")
    t.ok(reads("appended") >= 20, "each new server was read from what the journal gained (%d reads)"
         % reads("appended"))
    read = metric_sum(simd, "tankworld_sim_registry_read_bytes_total")
    t.ok(read < size + 20 * 4096, "bytes read in all: %d, for a journal of %d bytes (not 21 times it)"
         % (read, os.path.getsize(journal)))

    t.eq(disc.delete("/api/discovery/unregister/late-3").status, 200, "a server unregisters")
    # A known sender is taken without reading: the removal is read with the next unknown one.
    t.ok(wait_until(lambda: send("ghost-x") == 403 and send("late-3") == 403, 10),
         "and once an unknown sender made simd read on, its fish are refused (the appended removal)")

    # discoveryd cuts a torn end at its start and appends after it: simd's place in the
    # file still holds what it read there, and it goes on from it.
    disc.stop()
    with open(journal, "ab") as f:
        f.write(b'{"server_id":"torn-')
    disc.start()
    whole = reads("whole")
    register("after-torn")
    t.ok(wait_until(lambda: send("after-torn") == 200, 10),
         "after discoveryd cut a torn end and appended again, a new server is taken")
    t.eq(send("torn-"), 403, "and the torn line's server is not")

    t.eq(reads("whole"), whole, "read on from where it was (%d whole reads)" % reads("whole"))

    # The file edited in place (same inode, no shorter): the last whole line simd read is
    # no longer where it was, and simd reads the file whole.
    disc.stop()
    lines = open(journal, "rb").read().split(b"\n")
    gone = [ln for ln in lines if b'"server_id":"bulk-7"' in ln]
    # The records taken out (bulk-7's), the last of them renamed (its revision kept:
    # discoveryd takes the file back), padded with blanks so that the file grows.
    text = json.dumps(dict(json.loads(gone[-1].split(b" ", 2)[2]), server_id="edited-in"),
                      separators=(",", ":")).encode()
    kept = [ln for ln in lines if ln and ln not in gone]
    short = os.path.getsize(journal) - sum(len(ln) + 1 for ln in kept)
    text += b" " * max(0, short)
    edited = b"\n".join(kept + [state_line_raw(text)]) + b"\n"
    t.ok(len(edited) > os.path.getsize(journal), "(the edited file is no shorter: only its content says it changed)")
    with open(journal, "r+b") as f:
        f.write(edited)
        f.truncate()
    t.ok(send("edited-in") == 200 and send("bulk-7") == 403 and reads("whole") == whole + 1,
         "a journal edited in place is read whole: the server written in is taken, the one taken "
         "out refused (%d whole reads)" % reads("whole"))
    whole = reads("whole")

    # A compaction writes another file: simd reads that one whole.
    st = os.stat(journal)
    with open(journal, "rb") as f:
        data = f.read()
    tmp = journal + ".test"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, journal)
    disc.start()
    register("after-rename")
    t.ok(wait_until(lambda: send("after-rename") == 200, 10),
         "a journal replaced by another file (a compaction): its servers are taken")
    t.ok(reads("whole") == whole + 1 and os.stat(journal).st_ino != st.st_ino,
         "read whole once more (%d whole reads)" % reads("whole"))
    t.eq(send("late-3"), 403, "and the server that left stays refused")
    t.eq(send("bulk-5"), 200, "and the others are taken")
    t.eq(simd.stop(), 0, "simd exits 0")
    t.eq(disc.stop(), 0, "discoveryd exits 0")
finally:
    finish(t, root, [simd, disc])
t.done()
