#!/usr/bin/env python3
"""A daemon out of file descriptors pauses accepting for a second instead of
spinning, and serves again once clients go away (relayd's guard)."""
import os
import resource
import shutil
import socket
import subprocess
import time

from twlib import Daemon, Tap, base_ports, tmpdir, wait_until

t = Tap()
root = tmpdir("twef")
d = Daemon("discoveryd", root, "fd-hub", base_ports(1)[0])


def low_limit():
    resource.setrlimit(resource.RLIMIT_NOFILE, (48, 48))


orig_popen = subprocess.Popen


def popen_low(*a, **kw):
    kw["preexec_fn"] = low_limit
    return orig_popen(*a, **kw)


try:
    subprocess.Popen = popen_low
    d.start()
    subprocess.Popen = orig_popen
    socks = []
    for _ in range(80):
        s = socket.socket()
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", d.port))
        except OSError:
            s.close()
            break
        socks.append(s)
    # While out of descriptors, with the backlog still full of clients, the daemon must
    # sleep, not spin on accept: measure its CPU over two seconds.
    def cpu_seconds(pid):
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    time.sleep(0.5)
    extra = []
    for _ in range(40):  # more clients waiting in the backlog keep accept() ready
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect_ex(("127.0.0.1", d.port))
        except OSError:
            pass
        extra.append(s)
    c0, w0 = cpu_seconds(d.proc.pid), time.time()
    time.sleep(2.0)
    used = (cpu_seconds(d.proc.pid) - c0) / (time.time() - w0)
    t.ok(used < 0.2, "out of descriptors, it does not spin (%.0f%% of a core)" % (used * 100))
    for s in extra:
        s.close()
    t.ok(d.alive(), "the daemon survives running out of descriptors (%d clients held)" % len(socks))
    # Since issue 9 the connection limits follow the descriptor limit, so the excess
    # is closed at once and counted instead of running the daemon out of descriptors.
    m = d.get("/metrics").body
    refused = sum(float(l.split()[-1]) for l in m.splitlines()
                  if l.startswith("tankworld_http_connections_refused_total")
                  or l.startswith("tankworld_http_connections_evicted_total"))
    t.ok(refused > 0 or "accept failed" in d.log_tail(50),
         "and refuses the excess, counted in /metrics (%d)" % refused, d.log_tail(5))
    for s in socks:
        s.close()
    t.ok(wait_until(lambda: d.get("/health", tcp=True).status == 200, 5),
         "it serves again once the clients are gone")
    t.eq(d.stop(), 0, "exits 0")
finally:
    subprocess.Popen = orig_popen
    if d.alive():
        d.kill9()
    if t.failed:
        t.diag(d.log_tail(20))
    shutil.rmtree(root, ignore_errors=True)
t.done()
