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
        text = open(os.path.join(root, name + ".log")).read()
        t.ok("the other daemons and tankctl look for" in text,
             "%s: a Unix socket other than the configured one is warned of" % name)
        if t.failed:
            t.diag(text[-2000:])

    # Activated with a TCP socket alone (the mistake the units' comments warn of): it said
    # READY with no Unix socket, where the other daemons and tankctl look for it (an
    # operator's audit). It listens there itself.
    port = base_ports(1)[0]
    run = os.path.join(root, "run-tcp-only")
    notify = NotifySocket(os.path.join(root, "tcp-only.notify"))
    cmd = [ACTIVATE, "-l", "127.0.0.1:%d" % port, "-E", "NOTIFY_SOCKET=" + notify.path,
           os.path.join(BUILD, "discoveryd", "discoveryd"),
           "--set", "server.state_dir=" + os.path.join(root, "tcp-only-state"),
           "--set", "server.runtime_dir=" + run, "--set", "server.base_port=%d" % base_ports(1)[0],
           "--set", "server.server_id=sa-tcp-only"]
    log = open(os.path.join(root, "tcp-only.log"), "wb")
    p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    wait_until(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, 10)
    r = request("GET", url="http://127.0.0.1:%d" % port, path="/health", timeout=30)
    t.eq(r.status, 200, "TCP socket alone: the first connection starts discoveryd and is served")
    sock = os.path.join(run, "discoveryd.sock")
    r = request("GET", unix=sock, path="/health", timeout=10) if wait_until(lambda: os.path.exists(sock), 5) else None
    t.ok(r is not None and r.status == 200, "and it serves its configured Unix socket too", r)
    p.terminate()
    t.eq(p.wait(30), 0, "and exits 0 on SIGTERM")
    log.close()
    text = open(os.path.join(root, "tcp-only.log")).read()
    t.ok("systemd passed no Unix socket" in text, "saying why it made the Unix socket", text[-500:])
    notify.close()
finally:
    shutil.rmtree(root, ignore_errors=True)
t.done()
