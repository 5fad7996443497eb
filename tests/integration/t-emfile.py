#!/usr/bin/env python3
"""A daemon out of file descriptors pauses accepting for a second instead of
spinning, and serves again once clients go away (relayd's guard)."""
import os
import resource
import shutil
import socket
import subprocess
import time

import twlib
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
    time.sleep(1.0)
    t.ok(d.alive(), "the daemon survives running out of descriptors (%d clients held)" % len(socks))
    t.ok("accept failed" in d.log_tail(50), "and says so", d.log_tail(5))
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
