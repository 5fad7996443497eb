#!/usr/bin/env python3
"""Configuration as an operator meets it: --check-config, file:line errors that stop
the start, drop-ins and environment precedence, and SIGHUP reloads that keep the old
configuration when the new one is bad."""
import os
import re
import shutil
import signal
import socket
import subprocess
import time

from twlib import BUILD, Daemon, Tap, base_ports, metric_sum, tmpdir, wait_until

t = Tap()
root = tmpdir("twcf")
daemon = os.path.join(BUILD, "discoveryd", "discoveryd")


def run(args, env=None):
    e = dict(os.environ)
    e.pop("TANK_SERVER_ID", None)
    e.pop("TANK_API_PORT", None)
    e.update(env or {})
    p = subprocess.run([daemon] + args, capture_output=True, text=True, env=e, timeout=20)
    return p.returncode, p.stdout, p.stderr


try:
    conf = os.path.join(root, "tw.conf")
    with open(conf, "w") as f:
        f.write("# comment\n[server]\nserver_id = from-file\nbase_port = 9100\n\n[discovery]\n"
                "heartbeat_interval = 2\n")
    os.makedirs(conf + ".d")
    with open(os.path.join(conf + ".d", "20-late.conf"), "w") as f:
        f.write("[discovery]\nheartbeat_interval = 500ms\n")
    with open(os.path.join(conf + ".d", "10-early.conf"), "w") as f:
        f.write("[server]\nserver_id = from-dropin\n[discovery]\nheartbeat_interval = 7\n")
    with open(os.path.join(conf + ".d", "README"), "w") as f:
        f.write("not a drop-in = ignored\n")

    token = os.path.join(root, "token")
    with open(token, "w") as f:
        f.write("0123456789abcdef0123456789abcdef\n")
    os.chmod(token, 0o600)

    rc, out, err = run(["-c", conf, "--check-config"])
    t.eq(rc, 0, "--check-config exits 0")
    # A listener off loopback without a token: the daemon refuses it when it binds, so
    # --check-config (any daemon's, and tankworld's) says so instead of "OK".
    tw_bin = os.path.join(BUILD, "tankworld", "tankworld")
    for binary, lst in ((daemon, "discovery.listen=0.0.0.0:9100"), (daemon, "sim.listen=[::]:9101"),
                        (os.path.join(BUILD, "migrated", "migrated"), "migration.listen=198.18.0.1:9102"),
                        (tw_bin, "sim.listen=0.0.0.0:9101")):
        flag = "--check-config" if binary == tw_bin else "-n"
        p = subprocess.run([binary, "-c", conf, flag, "--set", lst], capture_output=True, text=True, timeout=20)
        t.ok(p.returncode == 1 and "not loopback, and there is no cluster token" in p.stderr
             and "[%s] listen" % lst.split(".")[0] in p.stderr and "configuration OK" not in p.stdout,
             "%s --check-config refuses %s without a token, naming it" % (os.path.basename(binary), lst),
             (p.returncode, p.stderr))
        for fix in ("security.insecure=yes", "security.token_file=" + token):
            p = subprocess.run([binary, "-c", conf, flag, "--set", lst, "--set", fix],
                               capture_output=True, text=True, timeout=20)
            t.ok(p.returncode == 0, "and takes it with %s" % fix.split("=")[0], (p.returncode, p.stderr))
    rc, out, err = run(["-c", conf, "-n", "--set", "sim.listen=localhost:9101"])
    t.ok(rc == 0, "a listener named localhost is loopback", err)
    t.ok("server_id = from-dropin" in out, "drop-in overrides the file", out)
    t.ok("heartbeat_interval = 0.5" in out, "later drop-in wins, 500ms parsed", out)
    t.ok("listen = 127.0.0.1:9100" in out and "configuration OK" in out,
         "derived listen address from base_port", out)

    rc, out, err = run(["-c", conf, "-n"], env={"TANK_SERVER_ID": "from-env", "TANK_API_PORT": "9200"})
    t.ok("server_id = from-env" in out and "api_port = 9200" in out and "listen = 127.0.0.1:9200" in out,
         "environment overrides drop-ins (TANK_SERVER_ID, TANK_API_PORT names the door)", out)
    rc, out, err = run(["-c", conf, "-n", "--set", "server.server_id=from-cli"],
                       env={"TANK_SERVER_ID": "from-env"})
    t.ok("server_id = from-cli" in out, "--set overrides the environment", out)
    rc, out, err = run(["-c", conf, "-n", "--set", "noequals"])
    t.ok(rc == 2 and "expected section.key=value" in err,
         "a --set that is not section.key=value is a command-line error: exit 2, as the man pages say",
         (rc, err))
    rc, out, err = run(["-c", conf, "-n", "--set", "server.no_such_key=1"])
    t.ok(rc == 1 and "no_such_key" in err, "a --set of an unknown key is a configuration error: exit 1", (rc, err))

    # Every configuration the documentation shows is one the daemons take as shown
    # (an operator pastes them): no comment at the end of a value line, which the
    # parser would read as part of the value.
    src = os.environ.get("abs_top_srcdir", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
    docs = [os.path.join(src, "README.md")] + sorted(
        os.path.join(src, "docs", n) for n in os.listdir(os.path.join(src, "docs")) if n.endswith(".md"))
    shown = []
    for path in docs:
        text = open(path, encoding="utf-8").read()
        for i, block in enumerate(re.findall(r"```ini\n(.*?)```", text, re.S)):
            name = os.path.join(root, "doc-%s-%d.conf" % (os.path.basename(path), i))
            with open(name, "w") as f:
                f.write(block)
            # The token file they name exists on the machines they describe, not here:
            # one of ours stands in (several listen off loopback, which needs a token).
            rc, out, err = run(["-c", name, "-n", "--set", "security.token_file=" + token])
            shown.append((os.path.basename(path), i, rc, err.strip()))
    t.ok(len(shown) >= 5 and all(x[2] == 0 for x in shown),
         "each of the %d configurations in the README and docs/ passes --check-config" % len(shown),
         [x for x in shown if x[2] != 0])
    late = os.path.join(root, "late-comment.conf")
    with open(late, "w") as f:
        f.write("[server]\nserver_id = tank-a   # unique per machine\n")
    rc, out, err = run(["-c", late, "-n"])
    t.ok(rc == 1 and "%s:2:" % late in err and "a comment takes its own line" in err,
         "a comment at the end of a value line: refused, saying a comment takes its own line", err)

    bad = os.path.join(root, "bad.conf")
    with open(bad, "w") as f:
        f.write("[server]\nserver_id = ok\n\n[discovery]\nheartbeat_interval = fast\n")
    rc, out, err = run(["-c", bad, "-n"])
    t.ok(rc != 0 and "%s:5:" % bad in err and "heartbeat_interval" in err and "'fast'" in err,
         "a bad value names file:line and refuses", err)
    with open(bad, "w") as f:
        f.write("[server]\nserver_id = ../evil\n")
    rc, out, err = run(["-c", bad, "-n"])
    t.ok(rc != 0 and ":2:" in err, "a bad server_id is refused with its line", err)
    with open(bad, "w") as f:
        f.write("[server]\nunknown_key = 1\n[mystery]\nx = 1\n")
    rc, out, err = run(["-c", bad, "-n"])
    t.ok(rc == 0 and "unknown key 'unknown_key'" in err and "unknown section [mystery]" in err,
         "unknown keys and sections are warnings", err)
    with open(bad, "w") as f:
        f.write("[discovery]\nheartbeat_interval = 10\nheartbeat_timeout = 5\n")
    rc, out, err = run(["-c", bad, "-n"])
    t.ok(rc != 0 and "heartbeat_timeout" in err, "cross-field check: timeout must exceed interval", err)
    rc, out, err = run(["-c", os.path.join(root, "missing.conf"), "-n"])
    t.ok(rc != 0 and "missing.conf" in err, "a named missing file is an error", err)
    rc, out, err = run(["-n", "--set", "discovery.listen=nowhere"])
    t.ok(rc != 0 and "listen" in err, "a bad --set is an error", err)
    rc, out, err = run(["--print-example-config"])
    t.ok(rc == 0 and "#heartbeat_interval = 30" in out and "[security]" in out,
         "--print-example-config shows every key with its default")
    with open(os.path.join(BUILD, "etc", "tankworld.conf")) as f:
        shipped = f.read()
    named = [ln for ln in shipped.splitlines() if ln.startswith("token_file = ")]
    t.ok(len(named) == 1 and named[0].endswith("/tankworld/token"),
         "the shipped configuration names the token make install creates", named)
    t.eq(shipped.replace(named[0] if named else "-", "#token_file = "), out,
         "the installed example etc/tankworld.conf is generated from the same table")

    # SIGHUP: a bad file keeps the running configuration; a good one applies.
    port = base_ports(1)[0]
    d = Daemon("discoveryd", os.path.join(root, "live"), "live", port)
    base_text = open(d.conf).read()
    d.start()
    with open(d.conf, "a") as f:
        f.write("[discovery]\nheartbeat_timeout = never\n")
    d.signal(signal.SIGHUP)
    t.ok(wait_until(lambda: "reload failed" in d.log_tail(), 5), "bad reload is logged", d.log_tail())
    t.eq(d.get("/health").status, 200, "and the daemon keeps serving")
    with open(d.conf, "w") as f:
        f.write(base_text + "[discovery]\nheartbeat_interval = 1\nheartbeat_timeout = 2\n")
    d.signal(signal.SIGHUP)
    t.ok(wait_until(lambda: "configuration reloaded" in d.log_tail(), 5), "good reload applies")
    d.post("/api/discovery/register", {"server_id": "peer", "host": "127.0.0.1", "port": 1})
    t.ok(wait_until(lambda: d.get("/api/discovery/servers/peer").json()["status"] == "offline", 4),
         "the reloaded timeout is in force")
    # A new advertise_host: peers kept the old address until a restart (an operator's
    # audit). 198.18.0.0/15 is for tests; nothing is sent there.
    with open(d.conf, "w") as f:
        f.write(base_text.replace("advertise_host = 127.0.0.1", "advertise_host = 198.18.0.7"))
    d.signal(signal.SIGHUP)
    t.ok(wait_until(lambda: d.get("/api/servers/local").json().get("host") == "198.18.0.7", 5),
         "a new advertise_host on reload is what the server advertises",
         (d.get("/api/servers/local").json().get("host"), d.log_tail(3)))
    # The connection limits and timeouts of [server] (request_timeout here) were kept
    # until a restart (an operator's audit).
    with open(d.conf, "w") as f:
        f.write(base_text + "[server]\nrequest_timeout = 1\n")
    # The reload before this one said the same words: wait for one more, or the
    # connection below may be accepted under the old 10 s (a sanitizer CI run).
    reloads = d.log_tail(100000).count("configuration reloaded")
    d.signal(signal.SIGHUP)
    t.ok(wait_until(lambda: d.log_tail(100000).count("configuration reloaded") > reloads, 5),
         "request_timeout = 1: reloaded")
    half = socket.create_connection(("127.0.0.1", d.port), timeout=0.2)
    t0 = time.time()
    half.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # never finished
    got = b""
    while not got and time.time() - t0 < 8:
        # Reloads meanwhile, more often than the connection sweep: each one started
        # its period over, and no request ever timed out.
        d.signal(signal.SIGHUP)
        try:
            got = half.recv(4096)
        except socket.timeout:
            pass
    half.close()
    t.ok(b" 408 " in got and time.time() - t0 < 4,
         "a request left half-sent gets its 408 after the reloaded request_timeout, SIGHUPs "
         "or not (%.1f s, was 10)" % (time.time() - t0), got[:80])
    # A new backend needs a restart: refused, the running configuration kept.
    with open(d.conf, "w") as f:
        f.write(base_text + "[discovery]\nbackend = etcd\netcd_endpoints = http://127.0.0.1:1\n")
    d.signal(signal.SIGHUP)
    t.ok(wait_until(lambda: "backend cannot change on reload" in d.log_tail(10), 5) and
         d.get("/health").json().get("role") == "hub",
         "a new backend on reload is refused, and the hub stays a hub", d.log_tail(5))
    with open(d.conf, "w") as f:
        f.write(base_text)
    # Identity and state cannot change under a running daemon, whichever daemon it is.
    for n in ("discoveryd", "simd", "migrated"):
        x = d if n == "discoveryd" else Daemon(n, os.path.join(root, "live"), "live", port)
        if x is not d:
            x.start()
        text = open(x.conf).read()
        with open(x.conf, "w") as f:
            f.write(text.replace("server_id = live", "server_id = someone-else"))
        x.signal(signal.SIGHUP)
        t.ok(wait_until(lambda: "[server] server_id cannot change on reload" in x.log_tail(), 5),
             "%s refuses a reload that changes server_id" % n, x.log_tail(5))
        t.eq(x.get("/health").json().get("server_id"), "live", "%s keeps its server_id" % n)
        # Nor where the daemons listen: a new base_port was "reloaded" while every daemon
        # kept its old ports.
        with open(x.conf, "w") as f:
            f.write(text.replace("base_port = %d" % port, "base_port = %d" % (port + 30)))
        x.signal(signal.SIGHUP)
        t.ok(wait_until(lambda: re.search(r"\[server\] base_port(, [^\n]*)? cannot change on reload "
                                          r"\(where the daemons listen\)", x.log_tail()), 5)
             and x.get("/health", tcp=True).status == 200,
             "%s refuses a reload that moves the listeners, and serves where it did" % n, x.log_tail(5))
        with open(x.conf, "w") as f:
            f.write(text)
        if n == "simd":
            # A default world simd cannot make is refused on reload, as at the start.
            with open(x.conf, "a") as f:
                f.write("[sim]\nwidth = 100000\nheight = 100000\n")
            x.signal(signal.SIGHUP)
            t.ok(wait_until(lambda: "width 100000 and height 100000" in x.log_tail(), 5),
                 "simd refuses a reload whose default world is too large, saying why", x.log_tail(5))
            r = x.post("/api/tanks", {"name": "after"})
            t.ok(r.status == 201, "and still makes tanks of the world it had", r)
            with open(x.conf, "w") as f:
                f.write(text)
        if x is not d:
            t.eq(x.stop(), 0, "%s exits 0" % n)
    t.eq(d.stop(), 0, "SIGTERM after reloads exits 0")

    # The default world of simd is checked before anything starts: a size conf.c takes
    # but simd cannot make stopped the first start with "cannot create the first tank".
    simd_bin = os.path.join(BUILD, "simd", "simd")
    for sets, want in ((["sim.width=150"], "from 200 to 100000"),
                       (["sim.width=100000", "sim.height=100000"], "width 100000 and height 100000")):
        args = [simd_bin, "-c", conf, "-n"] + [a for kv in sets for a in ("--set", kv)]
        p = subprocess.run(args, capture_output=True, text=True, timeout=20)
        t.ok(p.returncode == 1 and want in p.stderr,
             "simd --check-config refuses %s, saying why" % " ".join(sets), (p.returncode, p.stderr))

    # The door and a [sim] listen elsewhere: the listen won silently, and nothing
    # answered at the door (an operator's audit). Refused, naming both.
    both = os.path.join(root, "both.conf")
    with open(both, "w") as f:
        f.write("[server]\nserver_id = both\n[sim]\nlisten = 127.0.0.1:44205\n")
    rc, out, err = run(["-c", both, "--check-config"], env={"TANK_API_PORT": "44201"})
    t.ok(rc != 0 and "listen = 127.0.0.1:44205" in err and "TANK_API_PORT=44201" in err,
         "TANK_API_PORT and a [sim] listen on another port: refused, naming both", (rc, err))
    with open(both, "w") as f:
        f.write("[server]\nserver_id = both\n[security]\ntoken_file = %s\n[sim]\nlisten = 127.0.0.1:44201\n" % token)
    rc, out, err = run(["-c", both, "--check-config"], env={"TANK_API_PORT": "44201"})
    t.ok(rc == 0, "the same port in both: taken", err)

    # Reloads more often than a timer's interval: each started the interval over, and
    # the timer never fired (simd's snapshot rounds, a crash-timing audit; migrated's
    # passes and discoveryd's sweep the same way). t-simd-rounds has simd's.
    port = base_ports(1)[0]
    trio = [Daemon(n, os.path.join(root, "hup"), "hup", port) for n in ("discoveryd", "simd", "migrated")]
    # In the file, not --set (which would win over the file a reload reads).
    hup_text = open(trio[0].conf).read()
    with open(trio[0].conf, "a") as f:
        f.write("[migration]\ncheck_interval = 0.3\n[sim]\nsnapshot_interval = 3600\n")
    for x in trio:
        x.start()
    sim, mig = trio[1], trio[2]
    before = mig.get("/api/migrations").json()["scheduler"]["passes"]
    t_end = time.time() + 3
    while time.time() < t_end:
        mig.signal(signal.SIGHUP)
        time.sleep(0.1)
    after = mig.get("/api/migrations").json()["scheduler"]["passes"]
    t.ok(after - before >= 5, "a SIGHUP every 0.1 s: migrated's passes every 0.3 s go on (%d in 3 s)"
         % (after - before))
    # And a new interval on reload is the one in force.
    with open(trio[0].conf, "w") as f:
        f.write(hup_text + "[migration]\ncheck_interval = 30\n[sim]\nsnapshot_interval = 0.5\n")
    marks = [x.log_tail(100000).count("configuration reloaded") for x in (sim, mig)]
    for x in (sim, mig):
        x.signal(signal.SIGHUP)
    t.ok(wait_until(lambda: all(x.log_tail(100000).count("configuration reloaded") > m
                                for x, m in zip((sim, mig), marks)), 5),
         "check_interval = 30, snapshot_interval = 0.5: reloaded")
    passes = mig.get("/api/migrations").json()["scheduler"]["passes"]
    snaps = metric_sum(sim, "tankworld_sim_snapshots_total")
    time.sleep(2.5)
    passes = mig.get("/api/migrations").json()["scheduler"]["passes"] - passes
    snaps = metric_sum(sim, "tankworld_sim_snapshots_total") - snaps
    t.ok(passes <= 1, "migrated passes at the reloaded check_interval (%d passes in 2.5 s)" % passes)
    t.ok(snaps >= 2, "simd snapshots at the reloaded snapshot_interval (%d rounds in 2.5 s)" % snaps)
    for x in reversed(trio):
        x.stop()
finally:
    shutil.rmtree(root, ignore_errors=True)
t.done()
