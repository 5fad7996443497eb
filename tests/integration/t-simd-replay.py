#!/usr/bin/env python3
"""Crash recovery by deterministic replay. A running 1,000-fish tank killed with -9
20 s after its last snapshot comes back within 30 frames of where it died, with the
fish it had then (allowing for the births and deaths of those last frames), not
rewound to its snapshot. A journaled checkpoint hash that replay does not reproduce
stops the start with a message naming the tank, the frame and the journal file; with
sim.replay_strict = no the start goes on and says so, as it does when the snapshot was
written under other simulation rules (sim_rules)."""
import glob
import json
import os
import re
import time

from twlib import Daemon, Tap, base_ports, finish, state_line, tmpdir

SRC = os.environ.get("abs_top_srcdir", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
# The rules this simd runs, from the header that sets them (so a new version of the rules
# does not have to edit this test).
RULES = int(re.search(r"^#define SIM_RULES (\d+)$", open(os.path.join(SRC, "simd", "sim", "sim.h")).read(),
                      re.M).group(1))

t = Tap()
root = tmpdir("twrpl")
d = Daemon("simd", root, "rpl", base_ports(1)[0],
           extra={"sim.snapshot_interval": "3600", "sim.replay_budget": "600"})
sim = os.path.join(d.state_dir, "sim")


def spoil_last_mark(tank):
    """Flip a bit of the tank's newest checkpoint hash in the journal, keeping the line
    valid: a change only replay can notice. Returns the record as spoilt, and the file.
    Only this tank's marks: simd's first-start tank (Tank 1) runs beside it and journals
    its own, and which of the two wrote last before the kill is timing (CI once spoilt
    Tank 1's, and the message rightly named that tank instead)."""
    segs = sorted(glob.glob(os.path.join(sim, "journal", "*.log")))
    lines = open(segs[-1], "rb").read().split(b"\n")
    mine = ('"tank_id":"%s"' % tank).encode()
    idx = max(i for i, l in enumerate(lines) if b'"op":"mark"' in l and mine in l)
    rec = json.loads(lines[idx].split(b" ", 2)[2])
    rec["hash"] = "%016x" % (int(rec["hash"], 16) ^ 1)
    lines[idx] = state_line(rec)
    open(segs[-1], "wb").write(b"\n".join(lines))
    return rec, segs[-1]


def state(tank):
    s = d.get("/api/tanks/%s/state" % tank).json()
    st = d.get("/api/tanks/%s" % tank).json()
    return (s["frame"], set(e["id"] for e in s["entities"] if e["kind"] == "fish"),
            st["stats"]["births"], st["stats"]["deaths"])


try:
    d.start()
    tank = d.post("/api/tanks", {"name": "big", "initial_fish": 1000, "max_fish": 1200, "width": 6000,
                                 "height": 3000}).json()["tank"]["tank_id"]
    t.eq(d.stop(), 0, "clean stop: the tank's snapshot")
    d.start()
    snap_frame = d.get("/api/tanks/%s" % tank).json()["frame"]
    time.sleep(20)
    frame0, fish0, births0, deaths0 = state(tank)
    d.kill9()
    t.ok(frame0 - snap_frame >= 100, "the tank ran %d frames past its snapshot before the kill"
         % (frame0 - snap_frame))
    mark = len(open(d.log_path, "rb").read())
    d.start()
    frame1, fish1, births1, deaths1 = state(tank)
    log = open(d.log_path, "rb").read()[mark:].decode("utf-8", "replace")
    m = re.search(r"tank %s: re-simulated (\d+) frames from its snapshot to frame (\d+)" % tank, log)
    t.ok(m is not None, "the restart re-simulated the tank from its snapshot", log[-500:])
    back = int(m.group(2)) if m else -1
    t.ok(abs(back - frame0) <= 30, "it came back at frame %d, within 30 frames of %d (snapshot at %d)"
         % (back, frame0, snap_frame))
    changed = len(fish0 ^ fish1)
    # The fish list and the counters come from two requests, a frame or two apart: a
    # little slack. A rewind to the snapshot would differ by hundreds.
    allowed = abs(births1 - births0) + abs(deaths1 - deaths0) + 4
    t.ok(changed <= allowed and len(fish0 & fish1) >= 0.95 * len(fish0),
         "its fish are those seen before the kill: %d of %d differ, %d births and deaths between "
         "frames %d and %d" % (changed, len(fish0), allowed, frame0, frame1))

    # A checkpoint hash that replay does not reproduce: stop and say so.
    d.post("/api/tanks/%s/pause" % tank)
    d.kill9()
    rec, seg = spoil_last_mark(tank)
    want = ["replay diverged from the journal", "checkpoint hash differs", "tank %s" % tank,
            "frame %d" % rec["frame"], seg, "set [sim] replay_strict = no"]
    ok, log = d.start_fails(want, timeout=60)
    t.ok(ok, "a checkpoint hash that disagrees stops the start, naming the tank, the frame "
         "and the journal file, and saying what to do (it was cut off at 256 bytes)", log)
    d.start(args=["--set", "sim.replay_strict=no"])
    t.ok("replay diverged from the journal" in d.log_tail(20),
         "with sim.replay_strict = no it starts, and says so")
    t.eq(d.get("/api/tanks/%s" % tank).status, 200, "and the tank is served")

    # The same disagreement in a tank whose snapshot another version of the rules
    # wrote (an upgrade after a crash) cannot be a bug of this simd: reported, not fatal.
    d.post("/api/tanks/%s/pause" % tank)
    d.kill9()
    snap = os.path.join(sim, "tanks", tank, "snapshot.json")
    slines = open(snap, "rb").read().split(b"\n")
    head = json.loads(slines[0].split(b" ", 2)[2])
    t.eq(head.get("sim_rules"), RULES, "a snapshot says which simulation rules wrote it (%d)" % RULES)
    head["sim_rules"] = 1
    slines[0] = state_line(head)
    open(snap, "wb").write(b"\n".join(slines))
    spoil_last_mark(tank)
    d.start()
    log = d.log_tail(30)
    t.ok("written under simulation rules 1 and this simd runs rules %d" % RULES in log and
         "replay diverged from the journal" in log,
         "rules 1 in the snapshot: the divergence is reported and the start goes on", log)
    t.eq(d.get("/api/tanks/%s" % tank).status, 200, "and the tank is served")
    t.eq(d.stop(), 0, "clean stop")
finally:
    finish(t, root, [d])
t.done()
