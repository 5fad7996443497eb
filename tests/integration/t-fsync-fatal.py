#!/usr/bin/env python3
"""A failed fsync is fatal: a daemon whose disk refuses a sync stops with a message
naming what it could not sync, instead of going on as if its state were durable.
libpowerloss.so makes the syncs of one chosen path fail with EIO (TW_POWERLOSS_FAIL).
- discoveryd opening a fresh journal: the fsync of the journal's directory fails.
- simd removing a deleted tank's folder at its next snapshot round, before the journal
  segment that records the deletion may go: the fsync of the tanks directory fails.
  Had simd gone on and dropped that segment, a power cut could bring the folder, and
  the tank, back. simd stops; started again without the fault, the tank stays deleted."""
import os

from twlib import BUILD, Daemon, Tap, base_ports, finish, tmpdir, wait_until

t = Tap()
root = tmpdir("twfsf")
(port,) = base_ports(1)
LIB = os.path.join(BUILD, "tests", "powerloss", "libpowerloss.so")
control = os.path.join(root, "fail-path")
state = os.path.join(root, "state")
# fatal() ends the process with _exit, so the sanitizer build reports no leaks there and
# leak detection stays on as in every other test.
env = {"LD_PRELOAD": LIB, "TW_POWERLOSS_FAIL": control,
       "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}


def fail_syncs_of(path):
    with open(control, "w") as f:
        f.write(os.path.realpath(path) + "\n")


daemons = []
try:
    # discoveryd: its state directory exists (the lock is taken first), the journal is new.
    disc = Daemon("discoveryd", root, "fsf", port, env=dict(env))
    daemons.append(disc)
    os.makedirs(os.path.join(state, "discovery"), exist_ok=True)
    fail_syncs_of(os.path.join(state, "discovery"))
    good, log = disc.start_fails("cannot fsync")
    t.ok(good, "discoveryd stops when its journal's directory cannot be synced", log)
    os.unlink(control)

    sim = Daemon("simd", root, "fsf", port, extra={"sim.snapshot_interval": "0.5"}, env=dict(env))
    daemons.append(sim)
    sim.start()
    r = sim.post("/api/tanks", {"name": "doomed", "initial_fish": 2})
    t.ok(r.status == 201, "a tank is created", r)
    tank = r.json()["tank"]["tank_id"]
    tanks_dir = os.path.join(state, "sim", "tanks")
    # Every tank's folder made first (a new folder syncs the tanks directory too), so
    # that the only sync of it left is the one after the deleted tank's folder goes. A
    # folder is whole once its snapshot is in it: simd makes the folder, syncs the tanks
    # directory, then writes the snapshot. (Waiting for the folder alone set the fault
    # between its mkdir and that sync, once in a loaded CI run: simd stopped on
    # "cannot create" the folder instead.)
    def whole():
        names = os.listdir(tanks_dir) if os.path.isdir(tanks_dir) else []
        return len(names) == 2 and tank in names and all(
            os.path.exists(os.path.join(tanks_dir, n, "snapshot.json")) for n in names)
    t.ok(wait_until(whole, 15), "both tanks have their folders, each with its snapshot")
    fail_syncs_of(tanks_dir)
    try:
        sim.delete("/api/tanks/" + tank, timeout=10)
    except Exception:
        pass  # it may stop before it answers
    t.ok(wait_until(lambda: not sim.alive(), 15), "simd stops when the tanks directory cannot be synced")
    rc = sim.proc.returncode if sim.proc else None
    log = sim.log_tail(8)
    sim.kill9()  # a simd that went on is stopped here, so the restart below can lock
    t.ok(rc not in (None, 0) and "cannot fsync %s" % os.path.realpath(tanks_dir) in log,
         "with a failing exit (%s) and a message naming the directory" % rc, log)
    os.unlink(control)
    sim.start()
    r = sim.get("/api/tanks/" + tank)
    t.eq(r.status, 404, "started again, the deleted tank stays deleted (the journal held it)")
    t.eq(sim.stop(), 0, "simd stops cleanly")
finally:
    finish(t, root, daemons, tail=8)
t.done()
