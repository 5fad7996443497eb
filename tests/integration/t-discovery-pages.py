#!/usr/bin/env python3
"""A worker applies a hub's diff page in the right order. A server unregistered on the
hub and registered again is two changes: the old entry's removal and the new entry.
When one page holds both, the worker must end with the server listed: it used to apply
the removal last, and dropped a live server 3 s later. The hub here is a stand-in that
answers exactly such a page, so the check does not depend on timing."""
import http.server
import json
import os
import threading
import time
import urllib.parse

from twlib import Daemon, Tap, base_ports, finish, free_port, tmpdir, wait_until

t = Tap()
root = tmpdir("twdp")
EPOCH = "00000000000000e1"


class Hub:
    """Registration, heartbeats, and three diff pages: peer-a listed (revision 2), then
    peer-a both removed and listed again (revision 4), then nothing new."""

    def __init__(self):
        self.port = free_port()
        self.pages = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def reply(self, obj):
                data = json.dumps(obj).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.reply({"status": "ok"})

            def do_GET(self):
                q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                since = int(q.get("since", ["0"])[0])
                if q.get("epoch", [""])[0] != EPOCH:
                    since = 0
                outer.pages.append(since)
                peer = {"server_id": "peer-a", "hostname": "a", "host": "127.0.0.1", "port": 9,
                        "status": "online", "heartbeat_age_seconds": 0.1, "direct": True}
                page = {"epoch": EPOCH, "more": False, "reset": since == 0}
                if since < 2:
                    page.update(servers=[peer], removed=[], revision=2)
                elif since < 4:
                    page.update(servers=[peer], removed=["peer-a"], revision=4)
                else:
                    page.update(servers=[], removed=[], revision=4)
                self.reply(page)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), H)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


hub = Hub()
url = "http://127.0.0.1:%d" % hub.port
w = Daemon("discoveryd", os.path.join(root, "w"), "worker", base_ports(1)[0],
           extra={"discovery.heartbeat_interval": "1", "discovery.heartbeat_timeout": "3",
                  "discovery.hub_url": url})


def peer():
    s = w.get("/api/discovery/servers?include_local=false").json()["servers"]
    return next((x for x in s if x["server_id"] == "peer-a"), None)


try:
    w.start()
    t.ok(wait_until(lambda: 4 in hub.pages, 10), "the worker pulled the page with the removal and the return",
         hub.pages)
    # Past the heartbeat timeout: an unlisted learned server would be dropped by now.
    time.sleep(4.5)
    p = peer()
    t.ok(p is not None and url in p.get("hubs", []),
         "peer-a is still known, listed by the hub, 4.5 s later", p)
    t.eq(p and p["status"], "online", "and online (the hub hears it)")
    t.ok("evicted" not in w.log_tail(50), "nothing was evicted", w.log_tail(10))
    t.eq(w.stop(), 0, "the worker exits 0")
finally:
    hub.httpd.shutdown()
    finish(t, root, [w], 20)
t.done()
