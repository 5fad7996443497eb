#!/usr/bin/env python3
"""tankworld, one command per server: started with environment variables only (as the
original's recipe), without a config file it keeps state under ./data/<server_id>/;
every line of output carries the daemon's name; a daemon killed with -9 is back within
2 s with the same fish; SIGHUP reaches every daemon; Ctrl-C (SIGINT) stops all three
and leaves no process behind."""
import os
import shutil
import signal
import socket
import subprocess
import time

from twlib import BUILD, WRAPPER, Tap, base_ports, free_port, request, start_tankworld, tmpdir, wait_until

t = Tap()
root = tmpdir("twtw")
(port,) = base_ports(1)
proc = None


def children(pid):
    """Pids of the daemons a supervisor started (they are in process groups of their own,
    so look them up by parent)."""
    out = subprocess.run(["ps", "-o", "pid=,comm=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return {c: int(p) for p, c in (line.split() for line in out.splitlines() if line.strip())}


def sock(name):
    return os.path.join(root, "data", "tw-one", "run", name + ".sock")


def healthy(name):
    try:
        return request("GET", unix=sock(name), path="/health", timeout=2).status == 200
    except OSError:
        return False


try:
    tw = os.path.join(BUILD, "tankworld", "tankworld")
    v = subprocess.run(WRAPPER + [tw, "-V"], capture_output=True, text=True, timeout=10)
    h = subprocess.run(WRAPPER + [tw, "--help"], capture_output=True, text=True, timeout=10)
    t.ok(v.returncode == 0 and v.stdout.startswith("tankworld ") and h.returncode == 0 and "--version" in h.stdout,
         "-V prints the version and --help lists it", (v.stdout, h.stdout))
    # The daemons' options, and what is refused named (it printed the usage alone).
    opts = {}
    for args in (["-q"], ["--set", "nodot"], ["stray"], ["--print-example-config"], ["-d", "-n", "-s", "sim.tick_rate=25"]):
        p = subprocess.run(WRAPPER + [tw] + args, capture_output=True, text=True, timeout=20, cwd=root,
                           env=dict(os.environ, TANK_SERVER_ID="tw-opts"))
        opts[args[0]] = p
    t.ok(opts["-q"].returncode == 2 and "'q'" in opts["-q"].stderr and
         opts["--set"].returncode == 2 and "--set 'nodot': expected section.key=value" in opts["--set"].stderr and
         opts["stray"].returncode == 2 and "unexpected argument 'stray'" in opts["stray"].stderr,
         "an unknown option, a malformed --set and a stray argument are named, exit 2",
         [(k, p.returncode, p.stderr[:80]) for k, p in opts.items()])
    t.ok(opts["--print-example-config"].returncode == 0 and "\n[sim]\n" in opts["--print-example-config"].stdout and
         opts["-d"].returncode == 0 and "tick_rate = 25" in opts["-d"].stdout,
         "--print-example-config, -d, -n and -s work as the daemons'",
         (opts["--print-example-config"].stdout[:200], opts["-d"].stdout[-200:], opts["-d"].stderr[-200:]))
    env = dict(os.environ, TANK_SERVER_ID="tw-check")
    c = subprocess.run(WRAPPER + [tw, "--check-config"], capture_output=True, text=True, timeout=10, cwd=root, env=env)
    t.ok(c.returncode == 0 and "/data/tw-check/state" in c.stdout and not os.path.exists(os.path.join(root, "data", "tw-check")),
         "--check-config without a file names ./data/tw-check and creates nothing", (c.returncode, c.stdout[-300:]))
    # The configuration printed is the daemons' own, with what tankworld adds: it printed
    # the file's (/var/lib/tankworld, insecure = no) under comments saying otherwise.
    body = [ln for ln in c.stdout.splitlines() if not ln.startswith("#")]
    t.ok(("state_dir = %s/data/tw-check/state" % os.path.realpath(root)) in body and "insecure = yes" in body
         and "configuration OK" in c.stdout,
         "and prints the configuration the daemons get: state there, insecure on loopback",
         [ln for ln in body if "state_dir" in ln or "insecure" in ln])
    # Each daemon checks: a world simd refuses (its food supply past 10,000 times the
    # original's) was "OK" for tankworld, which then restarted simd for ever.
    c = subprocess.run(WRAPPER + [tw, "--check-config", "--set", "sim.width=100000", "--set", "sim.height=100000"],
                       capture_output=True, text=True, timeout=20, cwd=root, env=env)
    t.ok(c.returncode == 1 and "too large" in c.stderr and "configuration OK" not in c.stdout,
         "--check-config refuses a world simd would refuse, in simd's words", (c.returncode, c.stderr[-300:]))
    sets = ["sim.tick_rate=%d" % (20 + i) for i in range(9)] + ["discovery.heartbeat_interval=0.7"]
    c = subprocess.run(WRAPPER + [tw, "--check-config"] + [x for kv in sets for x in ("--set", kv)],
                       capture_output=True, text=True, timeout=20, cwd=root, env=env)
    t.ok(c.returncode == 0 and "heartbeat_interval = 0.7" in c.stdout and "tick_rate = 28" in c.stdout,
         "ten --set options all reach the daemons (past six, the rest were dropped)", c.stdout[-200:])
    proc = start_tankworld(root, "out.log", TANK_SERVER_ID="tw-one", TANK_API_PORT=port)
    up = wait_until(lambda: all(healthy(n) for n in ("discoveryd", "simd", "migrated")), 30, 0.1)
    t.ok(up, "three daemons answer on their sockets under ./data/tw-one/run")
    t.ok(os.path.isdir(os.path.join(root, "data", "tw-one", "state", "sim")), "state is kept in ./data/tw-one/state")
    r = request("GET", url="http://127.0.0.1:%d" % port, path="/api/tanks")
    t.eq(r.status, 200, "simd answers on TANK_API_PORT (%d), the door" % port)
    info = request("GET", unix=sock("discoveryd"), path="/api/servers/local").json()
    t.eq((info["host"], info["port"]), ("127.0.0.1", port),
         "a loopback door is advertised as 127.0.0.1 and the door's port")
    kids = children(proc.pid)
    listening = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True).stdout
    own = [ln for ln in listening.splitlines()
           if "pid=%d," % kids.get("discoveryd", -1) in ln or "pid=%d," % kids.get("migrated", -1) in ln]
    t.eq(own, [], "discoveryd and migrated open no TCP port of their own")
    t.ok(any("pid=%d," % kids.get("simd", -1) in ln for ln in listening.splitlines()),
         "(while simd's listener shows up in the same listing)")

    tanks = request("GET", unix=sock("simd"), path="/api/tanks").json()["tanks"]
    tid = tanks[0]["tank"]["tank_id"]
    request("POST", unix=sock("simd"), path="/api/tanks/%s/pause" % tid)
    before = sorted(e["id"] for e in request("GET", unix=sock("simd"), path="/api/tanks/%s/state" % tid).json()["entities"]
                    if e["kind"] == "fish")
    kids = children(proc.pid)
    t.eq(sorted(kids), ["discoveryd", "migrated", "simd"], "the supervisor runs the three daemons")
    os.kill(kids["simd"], signal.SIGKILL)
    t0 = time.time()
    back = wait_until(lambda: children(proc.pid).get("simd", kids["simd"]) != kids["simd"] and healthy("simd"), 10, 0.05)
    took = time.time() - t0
    t.ok(back and took < 2.0, "simd killed with -9 is back within 2 s (%.2f s)" % took)
    after = sorted(e["id"] for e in request("GET", unix=sock("simd"), path="/api/tanks/%s/state" % tid).json()["entities"]
                   if e["kind"] == "fish")
    t.eq(after, before, "with the same fish")

    proc.send_signal(signal.SIGHUP)
    time.sleep(1.0)
    text = open(os.path.join(root, "out.log"), "rb").read().decode("utf-8", "replace")
    reloaded = {ln.split()[0] for ln in text.splitlines() if "| " in ln and "configuration reloaded" in ln}
    t.eq(sorted(reloaded), ["discoveryd", "migrated", "simd"], "SIGHUP is forwarded: each daemon reloads")
    named = [ln for ln in text.splitlines() if "|" in ln]
    t.ok(any(ln.startswith("simd ") for ln in named) and any(ln.startswith("migrated ") for ln in named)
         and any(ln.startswith("discoveryd ") for ln in named), "each line carries its daemon's name")
    t.ok("was killed by signal 9" in text, "the supervisor says why it restarted simd")

    pids = set(children(proc.pid).values())
    proc.send_signal(signal.SIGINT)
    rc = proc.wait(40)
    t.eq(rc, 0, "Ctrl-C stops the server; tankworld exits 0")
    alive = [p for p in pids if os.path.exists("/proc/%d" % p)]
    t.eq(alive, [], "no daemon outlives it")
    proc = None

    # A daemon that cannot start (its door taken here) was started again every 30 s for
    # ever, saying why each time; as systemd's StartLimitBurst, five starts within 60 s
    # are the last.
    busy_port = free_port()
    busy = socket.socket()
    busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    busy.bind(("127.0.0.1", busy_port))
    busy.listen(1)
    proc = start_tankworld(root, "busy.log", TANK_SERVER_ID="tw-busy", TANK_API_PORT=busy_port)
    try:
        rc = proc.wait(90)
    except subprocess.TimeoutExpired:
        rc = None
    busy.close()
    text = open(os.path.join(root, "busy.log"), "rb").read().decode("utf-8", "replace")
    starts = text.count("simd started (pid")
    t.ok(rc == 1 and starts == 5 and "started 5 times within 60 s and died each time" in text,
         "a daemon whose door is taken is started 5 times, then the server stops: tankworld exits 1 "
         "(exit %s, %d starts)" % (rc, starts), text[-600:])
    # The fifth death is the last: no "restarting" announces a start that never comes.
    t.eq(text.count("restarting simd in"), 4, "tankworld announces only the 4 restarts it makes")
    left = subprocess.run(["pgrep", "-f", "data/tw-busy/"], capture_output=True, text=True).stdout.split()
    t.eq(left, [], "and no daemon of that server is left")
    proc = None
finally:
    if proc and proc.poll() is None:
        for p in children(proc.pid).values():
            os.kill(p, signal.SIGKILL)
        proc.kill()
        proc.wait()
    if t.failed:
        try:
            t.diag(open(os.path.join(root, "out.log"), "rb").read().decode("utf-8", "replace")[-3000:])
        except OSError:
            pass
    shutil.rmtree(root, ignore_errors=True)
t.done()
