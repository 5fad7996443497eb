#!/usr/bin/env python3
"""Pipelined requests against all three daemons: a client that sends requests without
reading the answers cannot make a daemon hold what it sends. Without a token, one such
connection had discoveryd hold 340 MB in 3 s (evhttp reads ahead to notice a close while
it answers, and kept everything it read). For each daemon:
- two connections send pipelined GET /health for 3 s and never read: the daemon's
  resident memory grows by less than 32 MB, and /health answers meanwhile;
- 1,500 pipelined requests of 1 kB each sent at once (more than a connection reads
  ahead: its largest request, the body limit and the headers') are all answered once
  the client reads;
- a 200 kB body (within simd's 256 KiB limit) is still read whole, on TCP and on the
  Unix socket."""
import json
import os
import socket
import time

from twlib import TEST_TOKEN, Daemon, Tap, base_ports, finish, request, tmpdir, write_token

t = Tap()
root = tmpdir("twpl")
port = base_ports(1)[0]
names = ("discoveryd", "simd", "migrated")
extra = {"security.token_file": write_token(root + "/token")}
# In the sanitizer build, ASan keeps freed memory aside (its quarantine, 256 MB by
# default) to catch a use after free: answering 100,000 pipelined requests grew
# discoveryd by 100 MB that way, with the read-ahead bounded. A small quarantine here
# keeps resident memory a measure of what the daemon holds.
env = None
if os.environ.get("TW_SANITIZERS") == "yes":
    env = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=4"}
d = {n: Daemon(n, root, "pipeline", port, extra=dict(extra), env=env) for n in names}
REQ = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
PADDED = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 960 + b"\r\n\r\n"


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def flood(port, seconds):
    """Two connections pipelining without reading; returns the bytes the kernel took."""
    socks = []
    for _ in range(2):
        s = socket.create_connection(("127.0.0.1", port))
        s.setblocking(False)
        socks.append(s)
    burst, sent, end = REQ * 2000, 0, time.time() + seconds
    while time.time() < end:
        for s in socks:
            try:
                sent += s.send(burst)
            except BlockingIOError:
                time.sleep(0.001)
    return socks, sent


def answers(port, n):
    """n pipelined requests in one send; the number of 200 answers read back in order."""
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    s.sendall(PADDED * n)
    buf, got = b"", 0
    try:
        while got < n:
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            buf += chunk
            got = buf.count(b"HTTP/1.1 200 OK")
    except socket.timeout:
        pass
    s.close()
    return got


try:
    for n in names:
        d[n].start()
    for n in names:
        dm, p = d[n], d[n].port
        before = rss_kb(dm.proc.pid)
        socks, sent = flood(p, 3.0)
        r = request("GET", dm.url, path="/health", timeout=5)
        t.ok(r.status == 200, "%s: /health answers while a client pipelines without reading" % n)
        grew = rss_kb(dm.proc.pid) - before
        t.ok(sent > 1 << 20 and grew < 32 << 10,
             "%s: %d kB sent unread, resident memory grew by %d kB (< 32 MB)" % (n, sent >> 10, grew))
        for s in socks:
            s.close()
        t.ok(dm.proc.poll() is None, "%s: still running after the flood" % n)
        got = answers(p, 1500)
        t.ok(got == 1500, "%s: 1,500 pipelined requests (1.5 MB) all answered once read (%d)" % (n, got))

    # The bound leaves room for a whole body (evhttp keeps one in the input buffer until
    # all of it is there): simd reads a 200 kB one and answers the route's own error.
    big = json.dumps({"name": "pipe", "description": "x" * 200000}).encode()
    for side, where in (("TCP", {"url": d["simd"].url}), ("Unix socket", {"unix": d["simd"].socket})):
        r = request("POST", path="/api/tanks", raw=big, timeout=10, token=TEST_TOKEN,
                    headers={"Content-Type": "application/json"}, **where)
        body = r.json() if r.body.startswith("{") else {}
        t.ok(r.status == 400 and body.get("code") == "invalid_tank",
             "simd over %s: a 200 kB body is read whole and answered by the route (%d %s)"
             % (side, r.status, body.get("code")))
finally:
    finish(t, root, list(d.values()))
    t.done()
