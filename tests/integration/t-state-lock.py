#!/usr/bin/env python3
"""One owner per state directory: a second simd, discoveryd or migrated started on
the same state (with sockets and ports of its own) refuses to start and names the
process that holds it; once the first is gone (even by kill -9) the state is free."""
import os

from twlib import Daemon, Tap, base_ports, finish, tmpdir

t = Tap()
root = tmpdir("twlck")
ports = base_ports(2)
state = os.path.join(root, "state")


def conf(sub, port):
    return ("[server]\nserver_id = lck\nbase_port = %d\nadvertise_host = 127.0.0.1\n"
            "state_dir = %s\nruntime_dir = %s\nlog_level = debug\n"
            % (port, state, os.path.join(root, sub, "run")))


def refused_start(b):
    """Starts b expecting it to exit: its exit status (None if it ran on) and last lines."""
    b.start(wait=False)
    try:
        rc = b.proc.wait(30)
    except Exception:
        rc = None
        b.kill9()
    log = b.log_tail(5)
    b._close()
    return rc, log


daemons = []
try:
    for name in ("simd", "discoveryd", "migrated"):
        a = Daemon(name, os.path.join(root, "a-" + name), "lck", ports[0], conf_text=conf("a-" + name, ports[0]))
        b = Daemon(name, os.path.join(root, "b-" + name), "lck", ports[1], conf_text=conf("b-" + name, ports[1]))
        daemons += [a, b]
        a.start()
        rc, log = refused_start(b)
        t.ok(rc not in (None, 0) and "in use by another %s (pid %d" % (name, a.proc.pid) in log,
             "a second %s on the same state refuses to start, naming pid %d" % (name, a.proc.pid), log)
        # The lock file deleted under the first: a second created another, locked it,
        # and both wrote the same state (a durability audit).
        locks = [os.path.join(dp, "lock") for dp, _, fs in os.walk(state) if "lock" in fs
                 and open(os.path.join(dp, "lock")).read().strip() == str(a.proc.pid)]
        for x in locks:
            os.unlink(x)
        rc, log = refused_start(b)
        t.ok(len(locks) == 1 and rc not in (None, 0) and "in use by another" in log,
             "with its lock file deleted, a second %s still refuses to start" % name, (locks, rc, log))
        a.kill9()
        b.start()
        t.ok(b.alive(), "after kill -9 of the first, the state is free for another %s" % name)
        t.eq(b.stop(), 0, "%s stops cleanly" % name)
finally:
    finish(t, root, daemons, tail=5)
t.done()
