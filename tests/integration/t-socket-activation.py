#!/usr/bin/env python3
"""Each daemon under systemd-socket-activate: it is started by the first connection,
serves the Unix and the TCP socket it was handed (binding nothing itself), and tells
a test NOTIFY_SOCKET READY=1. systemd is not PID 1 here, so this is the real path."""
import os
import shutil
import socket
import subprocess

from twlib import BUILD, NotifySocket, Tap, base_ports, request, tmpdir, wait_until

t = Tap()
root = tmpdir("twsa")
ACTIVATE = shutil.which("systemd-socket-activate")
DAEMONS = [d for d in ("discoveryd", "simd", "migrated") if os.path.exists(os.path.join(BUILD, d, d))]

try:
    if not ACTIVATE:
        t.ok(False, "systemd-socket-activate is installed (package systemd)")
    for name in DAEMONS:
        port = base_ports(1)[0]
        sock = os.path.join(root, name + ".sock")
        state = os.path.join(root, name + "-state")
        notify = NotifySocket(os.path.join(root, name + ".notify"))
        # The configured socket path and port differ from the activated ones: if the
        # daemon bound its own, requests to the activated ones would hang.
        cmd = [ACTIVATE, "-l", sock, "-l", "127.0.0.1:%d" % port,
               "-E", "NOTIFY_SOCKET=" + notify.path,
               os.path.join(BUILD, name, name), "--set", "server.state_dir=" + state,
               "--set", "server.runtime_dir=" + os.path.join(root, "unused-run"),
               "--set", "server.base_port=%d" % base_ports(1)[0],
               "--set", "server.server_id=sa-" + name, "--set", "sim.tick_rate=5"]
        log = open(os.path.join(root, name + ".log"), "wb")
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        ok = wait_until(lambda: os.path.exists(sock), 10)
        t.ok(ok, "%s: systemd-socket-activate listens on %s" % (name, sock))
        # The path exists from bind(); listen() follows a moment later.
        wait_until(lambda: socket.socket(socket.AF_UNIX).connect_ex(sock) == 0, 10)
        r = request("GET", unix=sock, path="/health", timeout=30)
        t.ok(r.status == 200 and r.json()["status"] == "healthy",
             "%s: first connection on the Unix socket starts it and is served" % name, r)
        t.ok(notify.wait_for("READY=1", 20) is not None, "%s: READY=1 on NOTIFY_SOCKET" % name)
        r = request("GET", url="http://127.0.0.1:%d" % port, path="/health")
        t.eq(r.status, 200, "%s: the TCP socket handed over is served too" % name)
        t.ok(not os.path.exists(os.path.join(root, "unused-run")),
             "%s: it bound nothing of its own" % name)
        p.terminate()
        rc = p.wait(30)
        t.eq(rc, 0, "%s: SIGTERM exits 0" % name)
        # Sent before the exit, so it is queued on the socket; the reader thread may not
        # have taken it yet when wait() returns (that race failed a CI run).
        t.ok(notify.wait_for("STOPPING=1", 5) is not None, "%s: STOPPING=1 was sent" % name)
        notify.close()
        log.close()
        if t.failed:
            t.diag(open(os.path.join(root, name + ".log")).read()[-2000:])
finally:
    shutil.rmtree(root, ignore_errors=True)
t.done()
