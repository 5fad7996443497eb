#!/usr/bin/env python3
"""simd's state under the damage a disk, an operator or an attacker can do. Each
damage either stops the start with a message naming the file (and, for a damaged line,
where in it), or, for a last journal record cut short only, is recovered cleanly. The
state is put back from a copy between the cases, and at the end it starts again."""
import glob
import json
import os
import shutil

from twlib import Daemon, Tap, base_ports, finish, journal_split, state_line, tmpdir

t = Tap()
root = tmpdir("twdmg")
d = Daemon("simd", root, "dmg", base_ports(1)[0], extra={"sim.snapshot_interval": "3600"})
sim = os.path.join(d.state_dir, "sim")
backup = os.path.join(root, "backup")


def restore():
    shutil.rmtree(sim)
    shutil.copytree(backup, sim)


def segments():
    return sorted(glob.glob(os.path.join(sim, "journal", "*.log")))


def flip(path, at):
    data = bytearray(open(path, "rb").read())
    data[at] = ord("x") if data[at] != ord("x") else ord("y")
    open(path, "wb").write(bytes(data))


try:
    d.start()
    tank = d.post("/api/tanks", {"name": "dmg", "initial_fish": 30, "max_fish": 100, "width": 300,
                                 "height": 300}).json()["tank"]["tank_id"]
    t.eq(d.stop(), 0, "clean stop (a snapshot round and a manifest)")
    t.ok(os.path.exists(os.path.join(sim, "manifest.json")), "manifest.json exists")
    snap = os.path.join(sim, "tanks", tank, "snapshot.json")
    older = open(snap, "rb").read()
    d.start()
    d.post("/api/tanks/%s/pause" % tank)
    d.post("/api/tanks/%s/resume" % tank)
    t.eq(d.stop(), 0, "clean stop: a newer snapshot")
    d.start()
    # Records after the snapshots: these live only in the journal.
    for _ in range(3):
        d.post("/api/tanks/%s/pause" % tank)
        d.post("/api/tanks/%s/resume" % tank)
    d.post("/api/tanks/%s/pause" % tank)
    d.kill9()
    shutil.copytree(sim, backup)
    head, recs, pad = journal_split(open(segments()[-1], "rb").read())
    lines = recs.split(b"\n")
    t.ok(len(lines) >= 7 and lines[-1] == b"", "the journal holds the records after the snapshot",
         len(lines))
    t.ok(head and pad and (len(head) + len(recs) + len(pad)) % (256 * 1024) == 0,
         "in a segment with a header, padded to whole chunks", (head, len(recs), len(pad)))

    # 1. One character of a fish line in the snapshot.
    snap = os.path.join(sim, "tanks", tank, "snapshot.json")
    data = open(snap, "rb").read()
    second = data.index(b"\n") + 1  # line 2: the first fish
    idpos = data.index(b'"id":"', second) + 8
    flip(snap, idpos)
    ok, log = d.start_fails([snap, "line 2", "checksum"])
    t.ok(ok, "a flipped character in a fish line: refused, naming the file and line", log)
    restore()

    # 2. One character of the last complete journal record (an acknowledged pause).
    seg = segments()[-1]
    head, recs, pad = journal_split(open(seg, "rb").read())
    end = len(head) + len(recs)
    last_start = len(head) + recs.rindex(b"\n", 0, len(recs) - 1) + 1
    flip(seg, last_start + (end - last_start) // 2)
    ok, log = d.start_fails([seg, "byte %d" % last_start, "damaged"])
    t.ok(ok, "a flipped character in the last complete journal record: refused (not cut as torn)", log)
    restore()

    # 2b. The newest segment cut short, between two records or inside one: acknowledged
    # records gone. Taken for a torn write (or not seen at all), it lost an arrived fish
    # or brought back one that had left; refused now, naming the file.
    for cut, what in ((last_start, "between two records"), (last_start + 10, "inside the last record")):
        os.truncate(seg, cut)
        ok, log = d.start_fails([seg, "cut short"])
        t.ok(ok, "the newest journal segment cut %s: refused, naming it" % what, log)
        restore()

    # 2b'. A record in the middle zeroed: taken for a torn write, it and every record
    # after it were dropped with a notice (an audit: 174 acknowledged records). The batch
    # written after it says what was durable before it: damage, refused.
    head, recs, pad = journal_split(open(seg, "rb").read())
    rl = recs.split(b"\n")
    mid = max(i for i, ln in enumerate(rl[:-3]) if b'"seq"' in ln)
    at = len(head) + sum(len(x) + 1 for x in rl[:mid])
    with open(seg, "r+b") as f:
        f.seek(at)
        f.write(b"\0" * (len(rl[mid]) + 1))
    ok, log = d.start_fails([seg, "damaged after it was written", "restore the journal"])
    t.ok(ok, "a zeroed record with acknowledged ones after it: refused, not dropped as torn", log)
    restore()

    # 2c. The newest segment cut to nothing: no header left, it read as an older simd's
    # segment holding no record, and the start went on without the acknowledged ones (an
    # audit: fish duplicated and lost across two servers). The manifest now says from
    # which segment on every one has a header.
    os.truncate(seg, 0)
    ok, log = d.start_fails([seg, "no segment header", "restore the journal"])
    t.ok(ok, "the newest journal segment cut to 0 bytes: refused, naming it", log)
    restore()

    # 2d. Another server's state (a backup put back on the wrong machine): its fish would
    # live on both servers at once. The manifest names the server.
    d.extra["server.server_id"] = "dmg-other"
    ok, log = d.start_fails(["state of server dmg", "not of this one (dmg-other)"])
    t.ok(ok, "the state of another server: refused, naming both", log)
    # An id taken from the host's name changes with it (a container made anew on the same
    # volume): the same server renamed, which goes on, saying so.
    d.extra["server.server_id"] = ""
    d.start()
    t.ok("takes its id from the host's name" in d.log_tail(40) and d.get("/api/tanks/%s" % tank).status == 200,
         "under an id from the host's name: it starts, with a warning naming the old id", d.log_tail(5))
    t.eq(d.stop(), 0, "clean stop")
    del d.extra["server.server_id"]
    restore()

    # 3. A journal segment deleted.
    seg = segments()[-1]
    os.unlink(seg)
    ok, log = d.start_fails([os.path.basename(seg), "missing"])
    t.ok(ok, "a deleted journal segment: refused, naming it", log)
    restore()

    # 4. transfers.json deleted.
    os.unlink(os.path.join(sim, "transfers.json"))
    ok, log = d.start_fails(["transfers.json is missing", "backup"])
    t.ok(ok, "a deleted transfers.json: refused", log)
    restore()

    # 5. A tank folder deleted.
    shutil.rmtree(os.path.join(sim, "tanks", tank))
    ok, log = d.start_fails([tank, "is missing"])
    t.ok(ok, "a deleted tank folder: refused, naming the tank", log)
    summary = os.path.join(sim, "summary.json")
    t.ok(not os.path.exists(summary), "and summary.json does not count a tank that is gone")
    restore()

    # 6. The manifest deleted (while the state carries checksums).
    os.unlink(os.path.join(sim, "manifest.json"))
    ok, log = d.start_fails(["manifest.json is missing"])
    t.ok(ok, "a deleted manifest: refused", log)
    restore()

    # 7. An older snapshot put back: a silent rollback unless refused.
    manifest = os.path.join(sim, "manifest.json")
    body = json.loads(open(manifest, "rb").read().split(b" ", 2)[2])
    t.ok(any(x["tank_id"] == tank for x in body["tanks"]), "the manifest lists the tank", body)
    open(snap, "wb").write(older)
    ok, log = d.start_fails([snap, "older copy"])
    t.ok(ok, "an older snapshot put back: refused", log)
    restore()

    # 7b. A tank created just before a crash, which the manifest lists without a
    # snapshot (snapshot_seq 0): a round lists the tanks after taking its snapshots,
    # and one created in between has none yet. The journal holds its creation and
    # recreates it; the start was refused, its folder "missing" (a researcher's audit).
    restore()
    d.start()
    fresh = d.post("/api/tanks", {"name": "fresh", "initial_fish": 5, "max_fish": 20, "width": 300,
                                  "height": 300, "paused": True}).json()["tank"]["tank_id"]
    d.kill9()
    body = json.loads(open(manifest, "rb").read().split(b" ", 2)[2])
    body["tanks"].append({"tank_id": fresh, "snapshot_seq": 0})
    open(manifest, "wb").write(state_line(body) + b"\n")
    t.ok(not os.path.exists(os.path.join(sim, "tanks", fresh)), "a new tank listed in the manifest, no folder yet")
    d.start()
    st = d.get("/api/tanks/%s" % fresh)
    t.ok(st.status == 200 and st.json()["stats"]["fish_count"] == 5,
         "starts, the tank recreated from the journal with its fish", st)
    t.eq(d.stop(), 0, "clean stop")
    # The same entry with a snapshot_seq, and no folder: that is a lost snapshot.
    restore()
    body = json.loads(open(manifest, "rb").read().split(b" ", 2)[2])
    body["tanks"].append({"tank_id": "0" * 8 + "-0000-4000-8000-" + "0" * 12, "snapshot_seq": 1})
    open(manifest, "wb").write(state_line(body) + b"\n")
    ok, log = d.start_fails(["is missing", "Restore it"])
    t.ok(ok, "a listed tank with a snapshot_seq and no folder: refused", log)
    restore()

    # 8. A semantic error in a checksummed line still names file, line and field.
    data = open(snap, "rb").read().split(b"\n")
    fish = json.loads(data[1].split(b" ", 2)[2])
    del fish["genome"]
    data[1] = state_line(fish)
    open(snap, "wb").write(b"\n".join(data))
    ok, log = d.start_fails([snap, "line 2", "genome"])
    t.ok(ok, "a fish line without its genome: refused, naming file, line and field", log)
    restore()

    # 9. The end of the last record never written (a crash during its write: padding
    # where its last bytes would be): a torn write, recovered.
    seg = segments()[-1]
    head, recs, pad = journal_split(open(seg, "rb").read())
    with open(seg, "r+b") as f:
        f.seek(len(head) + len(recs) - 5)
        f.write(b"\0" * 5)
    d.start()
    t.ok("torn last record" in d.log_tail(40), "a cut last record is reported as torn", d.log_tail(5))
    st = d.get("/api/tanks/%s" % tank).json()
    # The last record was the final pause; without it the tank runs.
    t.ok(st["paused"] is False and st["stats"]["fish_count"] > 0,
         "and the state is the one before that record", st.get("paused"))
    t.eq(d.stop(), 0, "clean stop after the recovery")

    restore()
    d.start()
    st = d.get("/api/tanks/%s" % tank).json()
    t.ok(st["paused"] is True, "the undamaged copy starts with every record applied", st.get("paused"))
    t.eq(d.stop(), 0, "clean stop")

    # An operator's things in tanks/ (a file, a folder not named by a tank id) are
    # neither loaded nor removed: a file stopped the start, and a folder was deleted as
    # a deleted tank's at the next snapshot.
    restore()
    open(os.path.join(sim, "tanks", "notes.txt"), "w").write("mine\n")
    open(os.path.join(sim, "tanks", tank + ".bak"), "w").write("mine\n")
    os.mkdir(os.path.join(sim, "tanks", "backup"))
    open(os.path.join(sim, "tanks", "backup", "snapshot.json"), "w").write("mine\n")
    d.start()
    st = d.get("/api/tanks/%s" % tank).json()
    t.ok(st.get("paused") is True and "not a tank's folder" in d.log_tail(40),
         "stray files and folders in tanks/: the start goes on, saying so", d.log_tail(5))
    t.eq(d.stop(), 0, "clean stop (a snapshot round)")
    t.ok(all(os.path.exists(os.path.join(sim, "tanks", x)) for x in ("notes.txt", tank + ".bak", "backup/snapshot.json")),
         "and they are all still there")

    # 11. A deleted tank's folder put back (or left by a crash between the round's
    # manifest and its removal): not in the manifest and older than the journal kept, it
    # came back to life with its fish (a durability audit). Set aside, with a warning.
    restore()
    d.start()
    gone = d.post("/api/tanks", {"name": "gone", "initial_fish": 3, "max_fish": 10, "width": 300,
                                 "height": 300}).json()["tank"]["tank_id"]
    t.eq(d.stop(), 0, "clean stop: the new tank snapshotted")
    keep = os.path.join(root, "gone-copy")
    shutil.copytree(os.path.join(sim, "tanks", gone), keep)
    d.start()
    t.eq(d.delete("/api/tanks/%s" % gone).status, 200, "the tank is deleted")
    t.eq(d.stop(), 0, "clean stop: its folder removed")
    shutil.copytree(keep, os.path.join(sim, "tanks", gone))
    d.start()
    t.ok(d.get("/api/tanks/%s" % gone).status == 404 and "was not loaded" in d.log_tail(40) and
         os.path.isdir(os.path.join(sim, "tanks", "." + gone + ".not-loaded")) and
         d.get("/api/tanks/%s" % tank).status == 200,
         "a deleted tank's folder put back: not loaded, set aside, with a warning", d.log_tail(5))
    t.eq(d.stop(), 0, "clean stop")

    # 12. A tank's folder from another server's state: its fish were on both servers.
    # Its snapshot names its server.
    restore()
    other = Daemon("simd", os.path.join(root, "other"), "other", base_ports(1)[0],
                   extra={"sim.snapshot_interval": "3600"})
    other.start()
    theirs = other.post("/api/tanks", {"name": "theirs", "initial_fish": 3, "max_fish": 10, "width": 300,
                                       "height": 300}).json()["tank"]["tank_id"]
    for _ in range(60):  # its journal far ahead of this one's
        other.post("/api/tanks/%s/pause" % theirs)
        other.post("/api/tanks/%s/resume" % theirs)
    t.eq(other.stop(), 0, "another server's simd stops cleanly")
    shutil.copytree(os.path.join(other.state_dir, "sim", "tanks", theirs), os.path.join(sim, "tanks", theirs))
    ok, log = d.start_fails(["snapshot of server other's tank", theirs])
    t.ok(ok, "a tank folder copied from another server: refused, naming the server and the folder", log)

    # summary.json (discoveryd's tank count, simd's to rewrite) made a folder: the start
    # is refused before the state is loaded, naming it. It used to be found after the
    # load, when the first write failed, and the daemon stopped on every start.
    restore()
    if os.path.exists(os.path.join(sim, "summary.json")):
        os.unlink(os.path.join(sim, "summary.json"))
    os.mkdir(os.path.join(sim, "summary.json"))
    ok, log = d.start_fails([os.path.join(sim, "summary.json"), "directory", "move it"])
    t.ok(ok, "summary.json as a folder: refused at start, naming it", log)
    t.ok("recovered" not in log, "before any tank is loaded", log)
    os.rmdir(os.path.join(sim, "summary.json"))

    # 9b. Everything removed but the marker of the first start: it started empty, every
    # fish lost without a word (an audit).
    restore()
    for name in ("tanks", "journal"):
        shutil.rmtree(os.path.join(sim, name))
    for name in ("manifest.json", "transfers.json"):
        os.unlink(os.path.join(sim, name))
    ok, log = d.start_fails(["was removed", "initialized"])
    t.ok(ok and os.path.exists(os.path.join(sim, "initialized")),
         "a state removed but for the marker of its first start: refused", log)

    # 10. A state from before checksums (bare JSON lines, no manifest) is read once and
    # upgraded: checksummed snapshots and a manifest are written at start.
    restore()
    for path in glob.glob(os.path.join(sim, "journal", "*.log")) + \
            glob.glob(os.path.join(sim, "tanks", "*", "snapshot.json")) + [os.path.join(sim, "transfers.json")]:
        out = []
        data = open(path, "rb").read()
        if path.endswith(".log"):  # the records of a segment, as an older simd wrote them
            data = journal_split(data)[1]
        for line in data.split(b"\n"):
            if path.endswith(".log") and line and b'"seq"' not in line:
                continue  # a batch marker: an older simd wrote none
            out.append(line.split(b" ", 2)[2] if line else line)
        open(path, "wb").write(b"\n".join(out))
    os.unlink(os.path.join(sim, "manifest.json"))
    d.start()
    st = d.get("/api/tanks/%s" % tank).json()
    t.ok(st["paused"] is True and st["stats"]["fish_count"] > 0, "a state from before checksums starts",
         st.get("stats"))
    t.ok(os.path.exists(os.path.join(sim, "manifest.json")) and
         not open(os.path.join(sim, "tanks", tank, "snapshot.json"), "rb").read().startswith(b"{"),
         "and is upgraded at once: a manifest and checksummed snapshots")
    t.eq(d.stop(), 0, "clean stop")
finally:
    finish(t, root, [d])
t.done()
