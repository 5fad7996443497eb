"""Shared helpers for the integration tests: start real daemons in temporary
directories on Unix sockets and loopback ports, wait for READY=1 on a test
NOTIFY_SOCKET, talk HTTP over either listener, and print TAP."""

import atexit
import fcntl
import http.client
import http.server
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

BUILD = os.environ.get("abs_top_builddir", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
WRAPPER = os.environ.get("TEST_WRAPPER", "").split()
# The daemons' valgrind runs: any error, or a definite leak, fails the run (exit 99).
VALGRIND = ["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
            "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite", "--track-fds=no"]


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, diag=None):
        self.n += 1
        print(("ok" if cond else "not ok") + " %d - %s" % (self.n, name), flush=True)
        if not cond:
            self.failed += 1
            if diag is not None:
                for line in str(diag).splitlines()[:40]:
                    print("#   " + line, flush=True)
        return cond

    def todo(self, cond, name, why, diag=None):
        """A known gap, reported as TAP TODO: printed with its reason, not counted as a
        failure, and listed as an open issue until it passes."""
        self.n += 1
        print(("ok" if cond else "not ok") + " %d - %s # TODO %s" % (self.n, name, why), flush=True)
        if not cond and diag is not None:
            for line in str(diag).splitlines()[:40]:
                print("#   " + line, flush=True)
        return cond

    def eq(self, got, want, name):
        return self.ok(got == want, name, "got %r, want %r" % (got, want))

    def diag(self, msg):
        for line in str(msg).splitlines():
            print("# " + line, flush=True)

    def done(self):
        # Scripts call this from their `finally:`, where sys.exit would silently replace an
        # exception still on its way out: the rest of the script would be skipped without
        # a word. Such an exception is a failure of its own, with its traceback.
        exc = sys.exc_info()[1]
        if exc is not None and not isinstance(exc, SystemExit):
            self.ok(False, "the script ran to its end (it raised %s)" % type(exc).__name__,
                    "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        print("1..%d" % self.n, flush=True)
        sys.exit(1 if self.failed else 0)


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class Response:
    def __init__(self, status, body, headers):
        self.status = status
        self.body = body
        self.headers = headers

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<%d %s>" % (self.status, self.body[:300])


def request(method, url=None, unix=None, path="/", body=None, token=None, timeout=10, headers=None, raw=None):
    """HTTP request over TCP (url = "http://127.0.0.1:port") or a Unix socket."""
    if unix:
        conn = UnixHTTPConnection(unix, timeout=timeout)
    else:
        hostport = url.split("//", 1)[1].rstrip("/")
        conn = http.client.HTTPConnection(hostport, timeout=timeout)
    hdrs = dict(headers or {})
    data = None
    if raw is not None:
        data = raw if isinstance(raw, bytes) else raw.encode()
    elif body is not None:
        data = json.dumps(body).encode()
    if data is not None:
        hdrs.setdefault("Content-Type", "application/json")
    if token:
        hdrs["Authorization"] = "Bearer " + token
    try:
        conn.request(method, path, body=data, headers=hdrs)
        r = conn.getresponse()
        return Response(r.status, r.read().decode("utf-8", "replace"), dict(r.getheaders()))
    finally:
        conn.close()


class NotifySocket:
    """A datagram socket standing in for systemd's NOTIFY_SOCKET. A thread reads it
    all the time, as systemd does, so the daemon never finds it full."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.messages = []
        self.lock = threading.Lock()
        self.closed = False
        self.thread = threading.Thread(target=self._reader, daemon=True)
        self.thread.start()

    def _reader(self):
        while not self.closed:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.messages.append(data.decode())

    def find(self, key):
        with self.lock:
            for m in self.messages:
                for line in m.split("\n"):
                    if line.startswith(key):
                        return m
        return None

    def wait_for(self, key, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = self.find(key)
            if m:
                return m
            time.sleep(0.02)
        return None

    def close(self):
        self.closed = True
        self.thread.join()
        self.sock.close()


# The cluster token every test daemon gets unless its test names another (or none):
# since issue 9, TCP is read-only without one, and the tests run as a real install does.
TEST_TOKEN = "twlib-test-token-0123456789abcdef"


def write_token(path, token=TEST_TOKEN):
    """A token file as make install writes it: not readable by others (the daemons
    refuse one that is)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    os.chmod(path, 0o640)
    return path
def test_seed(tap, *legacy, default=None):
    """The seed of a randomised test: SEED (or an older per-test variable) when set,
    else `default`, else a fresh one. Printed, and the global `random` is seeded with it
    too, so `SEED=<n> make check TESTS=...` replays the run."""
    raw = os.environ.get("SEED")
    for name in legacy:
        raw = raw or os.environ.get(name)
    seed = int(raw) if raw else (default if default is not None else random.randrange(1 << 30))
    tap.diag("seed %d (SEED=%d repeats this run)" % (seed, seed))
    random.seed(seed)
    return seed


def crc32c(data):
    """CRC32C (Castagnoli), as simd's state lines carry it."""
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def journal_split(data):
    """A journal segment's bytes as (header, records, padding). A segment simd writes
    now starts with a header line and is padded with NULs to whole chunks; an older
    simd's holds records only (header and padding empty)."""
    first = data[:data.find(b"\n") + 1]
    head = first if b'"journal_segment"' in first else b""
    end = data.find(b"\0")
    end = len(data) if end < 0 else end
    return head, data[len(head):end], data[end:]


def journal_tear(path, partial):
    """Leave the start of a record with no end where a crash during a write would: in
    the padding after the records (padded segments keep their size), or at the end of
    an older simd's segment."""
    data = open(path, "rb").read()
    head, recs, pad = journal_split(data)
    with open(path, "r+b") as f:
        f.seek(len(head) + len(recs) if pad else len(data))
        f.write(partial)


def state_line(obj):
    """One line of simd's state files (without its newline) holding obj, with a valid
    checksum and length: a change that only replay can notice."""
    text = json.dumps(obj, separators=(",", ":")).encode()
    return b"%08x %d %s" % (crc32c(text), len(text), text)


class FakeClock:
    """A daemon's wall clock under libfaketime, set by an offset in a file ("+0d", "-1h",
    "+31d": step writes it; a daemon started with .env reads it at every call). The
    monotonic clock is left alone. .env is None when libfaketime is not installed."""

    def __init__(self, root):
        import glob
        libs = (glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1") +
                glob.glob("/usr/lib/faketime/libfaketimeMT.so.1"))
        self.path = os.path.join(root, "faketime")
        self.env = None
        if not libs:
            return
        os.makedirs(root, exist_ok=True)
        self.step("+0d")
        self.env = {"LD_PRELOAD": libs[0], "FAKETIME_TIMESTAMP_FILE": self.path,
                    "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
        if os.environ.get("TW_SANITIZERS") == "yes":
            self.env["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"

    def step(self, offset):
        with open(self.path, "w") as f:
            f.write(offset + "\n")

    @classmethod
    def or_skip(cls, root):
        """The clock, or the test skipped (exit 0) when libfaketime is not installed."""
        c = cls(root)
        if not c.env:
            print("1..0 # SKIP libfaketime is not installed (Debian package faketime)")
            raise SystemExit(0)
        return c


def tmpdir(prefix="tw"):
    # Short paths: sun_path holds 108 bytes.
    return tempfile.mkdtemp(prefix=prefix, dir="/tmp")


# Test ports come from below the kernel's ephemeral range, and each is reserved with a lock
# file held until the test script exits. A port the kernel handed out for a moment (bind
# to port 0, then close) is in the range every outgoing connection draws its local port
# from: with tests running side by side, another test's client took such a port before
# the daemon meant for it could listen there (CI failed on it: "the port is in use").
PORT_LOCKS = "/tmp/tankworld-test-ports"
_held_ports = []


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _reserve(port):
    """Take the test-wide lock on this port, and check nothing listens there now."""
    if not os.path.isdir(PORT_LOCKS):
        os.makedirs(PORT_LOCKS, exist_ok=True)
        try:
            os.chmod(PORT_LOCKS, 0o1777)  # tests run by several users share it
        except OSError:
            pass
    fd = os.open(os.path.join(PORT_LOCKS, str(port)), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        os.close(fd)
        return False
    finally:
        s.close()
    _held_ports.append(fd)  # released when this process exits
    return True


def _free_ports(width):
    """The first of `width` consecutive free ports, all reserved for this script."""
    hi = min(_ephemeral_low(), 65536) - width
    lo = max(1024, min(10000, hi - 5000))
    if hi - lo < 1000:  # an unusual ephemeral range: share it, the locks still help
        lo, hi = 20000, 60000 - width
    rng = random.SystemRandom()  # not the test's seeded generator: ports are no part of a run
    for _ in range(10000):
        p = rng.randrange(lo, hi)
        got = []
        for k in range(width):
            if not _reserve(p + k):
                break
            got.append(p + k)
        if len(got) == width:
            return p
        for _ in got:  # a partial run: give its locks back
            os.close(_held_ports.pop())
    raise RuntimeError("no %d free consecutive ports below %d" % (width, hi))


def free_port():
    return _free_ports(1)


# Every daemon and tankworld a test starts, so that none outlives the test: a test whose
# script failed midway (an exception past a finally that only removes its folder) left
# its daemons running on, holding ports, for the rest of the suite.
_STARTED = []


def _stop_leftovers():
    left = [(name, p) for name, p in _STARTED if p.poll() is None]
    for name, p in left:
        sys.stderr.write("# twlib: %s (pid %d) was still running at exit; stopped\n" % (name, p.pid))
        p.send_signal(signal.SIGCONT)
        p.send_signal(signal.SIGTERM)
    for _, p in left:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


atexit.register(_stop_leftovers)


class Daemon:
    """One daemon process with its own config, state and runtime dirs."""

    def __init__(self, name, root, server_id, base_port, extra=None, conf_text=None, env=None):
        self.name = name
        self.root = root
        self.server_id = server_id
        self.base_port = base_port
        self.extra = extra or {}
        self.env = env or {}
        os.makedirs(root, exist_ok=True)
        self.state_dir = os.path.join(root, "state")
        self.run_dir = os.path.join(root, "run")
        self.conf = os.path.join(root, "tankworld.conf")
        if conf_text is not None:
            with open(self.conf, "w") as f:
                f.write(conf_text)
        elif not os.path.exists(self.conf):
            self.token_file = write_token(os.path.join(root, "twlib-token"))
            # Scheduled migrations move fish only here, so that tests which count the fish a
            # pass moved stay exact; the plant tests (t-plant-migration, the chaos test) set
            # migration.plant_weight themselves.
            with open(self.conf, "w") as f:
                f.write("[server]\nserver_id = %s\nbase_port = %d\nadvertise_host = 127.0.0.1\n"
                        "state_dir = %s\nruntime_dir = %s\nlog_level = debug\n"
                        "[security]\ntoken_file = %s\n[migration]\nplant_weight = 0\n"
                        % (server_id, base_port, self.state_dir, self.run_dir, self.token_file))
        self.proc = None
        self.cmd_prefix = []  # e.g. ["prlimit", "--nofile=1024"]: runs the daemon under it
        self.log_path = os.path.join(root, name + ".log")
        self.notify = None

    @property
    def socket(self):
        return os.path.join(self.run_dir, self.name + ".sock")

    @property
    def port(self):
        return self.base_port + {"discoveryd": 0, "simd": 1, "migrated": 2}[self.name]

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self, wait=True, args=None, wrapper=None):
        """wrapper (a command line, VALGRIND) runs the daemon in place of TEST_WRAPPER's."""
        cmd = self.cmd_prefix + (WRAPPER if wrapper is None else wrapper) + [os.path.join(BUILD, self.name, self.name), "-c", self.conf]
        for k, v in self.extra.items():
            cmd += ["--set", "%s=%s" % (k, v)]
        cmd += args or []
        npath = os.path.join(self.root, self.name + ".notify")
        if os.path.exists(npath):
            os.unlink(npath)
        self.notify = NotifySocket(npath)
        env = dict(os.environ)
        env.update(self.env)
        env["NOTIFY_SOCKET"] = npath
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.logf, stderr=subprocess.STDOUT, env=env)
        _STARTED.append((self.name, self.proc))
        if wait:
            if not self.notify.wait_for("READY=1", timeout=60):
                raise RuntimeError("%s did not become ready; log:\n%s" % (self.name, self.log_tail()))
        return self

    def log_tail(self, n=30):
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-n:]).decode("utf-8", "replace")
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self, timeout=30):
        """SIGTERM and wait; returns the exit status (None if it had to be killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
        self._close()
        return rc

    def kill9(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
        self._close()

    def start_fails(self, expect, timeout=30, tail=6):
        """Start it and expect it to refuse: (True, log) when it exits non-zero within
        timeout and its last lines contain every string of expect (one string or a
        list); otherwise (False, log or "still running")."""
        expect = [expect] if isinstance(expect, str) else expect
        self.start(wait=False)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
            return False, "still running"
        log = self.log_tail(tail)
        self._close()
        return rc != 0 and all(x in log for x in expect), log

    def _close(self):
        self.proc_last = self.proc
        self.proc = None
        if self.notify:
            self.notify.close()
            self.notify = None
        try:
            self.logf.close()
        except Exception:
            pass

    def get(self, path, tcp=False, **kw):
        return self.req("GET", path, tcp=tcp, **kw)

    def post(self, path, body=None, tcp=False, **kw):
        return self.req("POST", path, body=body, tcp=tcp, **kw)

    def delete(self, path, tcp=False, **kw):
        return self.req("DELETE", path, tcp=tcp, **kw)

    def req(self, method, path, tcp=False, **kw):
        if tcp:
            return request(method, url=self.url, path=path, **kw)
        return request(method, unix=self.socket, path=path, **kw)

    def fish_ids(self, tank, tcp=False, timeout=10):
        """The ids of tank's fish, in the order of its state (GET /api/tanks/{id}/state),
        or None when that does not answer 200."""
        r = self.get("/api/tanks/%s/state" % tank, tcp=tcp, timeout=timeout)
        return [e["id"] for e in r.json()["entities"] if e["kind"] == "fish"] if r.status == 200 else None


def finish(t, root, daemons, tail=20):
    """A test's last words, for its finally: kill every daemon that still runs, show
    their logs when a test failed, remove the temporary folder."""
    for d in daemons:
        if d.alive():
            d.kill9()
    if t.failed:
        for d in daemons:
            t.diag("--- %s %s\n%s" % (d.server_id, d.name, d.log_tail(tail)))
    shutil.rmtree(root, ignore_errors=True)


def jerr(r, status, code=None):
    """The answer is the daemons' JSON error: this status, a string "error" and a string
    "code" (the given one, when one is given)."""
    try:
        j = r.json()
    except ValueError:
        return False
    return (r.status == status and isinstance(j, dict) and isinstance(j.get("error"), str)
            and isinstance(j.get("code"), str) and (code is None or j.get("code") == code))


def metric_sum(d, name):
    """The sum of every sample of d's /metrics whose line starts with name (all its
    labels, or those name gives), read over TCP with the test token."""
    body = d.get("/metrics", tcp=True, token=TEST_TOKEN).body
    return sum(float(line.split()[-1]) for line in body.splitlines() if line.startswith(name))


def metrics_problems(text):
    """What breaks the Prometheus text format in a /metrics body: a sample with no TYPE
    line before it, a family whose samples are not one group, a TYPE given twice or after
    its samples, a line that is not a sample, a summary with samples but no _sum or
    _count (promtool refuses those), a TYPE without its HELP line (promtool's lint). An
    empty list when it holds."""
    import re
    sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*"'
                        r'(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*")*\})? [-+0-9.eEinfNa]+$')
    typed, done, problems, current, seen, helped = {}, set(), [], None, {}, set()
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("# HELP "):
            helped.add(line.split()[2] if len(line.split()) > 3 else "")
            continue
        if line.startswith("# TYPE "):
            parts = line.split()
            if len(parts) > 2 and parts[2] not in helped:
                problems.append("line %d: %s has no HELP line before its TYPE" % (n, parts[2]))
            if len(parts) != 4 or parts[3] not in ("counter", "gauge", "summary", "histogram", "untyped"):
                problems.append("line %d: bad TYPE: %s" % (n, line))
            elif parts[2] in typed or parts[2] in done:
                problems.append("line %d: TYPE of %s again or after its samples" % (n, parts[2]))
            typed[parts[2]] = parts[3]
            continue
        if line.startswith("#") or not line:
            continue
        m = sample.match(line)
        if not m:
            problems.append("line %d: not a sample: %s" % (n, line))
            continue
        name = m.group(1)
        family = name
        for suffix in ("_sum", "_count", "_bucket"):
            if name.endswith(suffix) and typed.get(name[:-len(suffix)]) in ("summary", "histogram"):
                family = name[:-len(suffix)]
        if family not in typed:
            problems.append("line %d: %s has no TYPE line before it" % (n, family))
            typed[family] = "untyped"
        if family != current:
            if family in done:
                problems.append("line %d: %s's samples are not in one group" % (n, family))
            if current:
                done.add(current)
            current = family
        seen.setdefault(family, set()).add(name)
    for family, kind in typed.items():
        names = seen.get(family, set())
        if kind == "summary" and names and not {family + "_sum", family + "_count"} <= names:
            problems.append("summary %s has no _sum or _count" % family)
    return problems


class HealthProbe:
    """GET /health on d's TCP port every interval, from a process of its own, for tests
    that the daemon's event loop keeps answering. A thread of the test would share the
    interpreter's lock with the test itself, which parses answers of many megabytes (a
    20,000-fish tank's state takes about half a second): it measured its own waits as
    the daemon's, up to 586 ms. The child times each request with CLOCK_MONOTONIC, which
    every process shares, so the answers can be cut into the test's phases by time.
    lat holds (seconds, status or error, started at) in the order they were made."""

    def __init__(self, d, interval=0.02):
        self.lat = []
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--health-probe",
                                      d.url, str(interval)], stdout=subprocess.PIPE, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            t0, secs, status = line.split(" ", 2)
            status = status.strip()
            self.lat.append((float(secs), int(status) if status.isdigit() else status, float(t0)))

    def since(self, t0, t1=None):
        """The answers to the requests made from t0 (time.monotonic()) to t1 or now."""
        return [x for x in list(self.lat) if x[2] >= t0 and (t1 is None or x[2] <= t1)]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(30)
        self.reader.join(30)


def _health_probe(url, interval):
    hostport = url.split("//", 1)[1].rstrip("/")
    parent = os.getppid()
    while os.getppid() == parent:  # a test that dies leaves no probe behind
        t0 = time.monotonic()
        try:
            conn = http.client.HTTPConnection(hostport, timeout=60)
            conn.request("GET", "/health")
            r = conn.getresponse()
            r.read()
            status = str(r.status)
            conn.close()
        except OSError as e:
            status = str(e).replace("\n", " ") or type(e).__name__
        print("%.6f %.6f %s" % (t0, time.monotonic() - t0, status), flush=True)
        time.sleep(interval)


def wait_until(pred, timeout, interval=0.05):
    deadline = time.time() + timeout
    while True:
        try:
            v = pred()
        except Exception:
            v = None
        if v:
            return v
        if time.time() >= deadline:
            return v
        time.sleep(interval)


def fd_count(pid, kind=""):
    """A process's open descriptors, or those whose target starts with kind ("socket:")."""
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            n += os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith(kind)
        except OSError:
            pass  # closed between the listing and the look
    return n


def fd_baseline(pid, looks=10, interval=0.1):
    """(descriptors, sockets): the most seen over a second. A tank's journal changes
    segment now and then, closing one file before it opens the next, and a single look
    can fall in between (a sanitizer build's CI run did: 12 then 13, no leak)."""
    fds = socks = 0
    for _ in range(looks):
        fds, socks = max(fds, fd_count(pid)), max(socks, fd_count(pid, "socket:"))
        time.sleep(interval)
    return fds, socks


TANKWORLD = os.path.join(BUILD, "tankworld", "tankworld")


def start_tankworld(root, log_name, **env):
    """One `tankworld` server (a server's three daemons behind one door), configured by
    environment variables only, as the original's recipe is; env None unsets one. Its
    output goes to root/log_name. NOTIFY_SOCKET is not passed on: tankworld is not a
    daemon of ours to wait for, its daemons are its own children."""
    e = dict(os.environ)
    e.pop("NOTIFY_SOCKET", None)
    for k, v in env.items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = str(v)
    log = open(os.path.join(root, log_name), "wb")
    p = subprocess.Popen([TANKWORLD], cwd=root, env=e, stdout=log, stderr=subprocess.STDOUT)
    _STARTED.append(("tankworld", p))
    return p


def interrupt(procs, timeout=30):
    """Ctrl-C each process, as a user stops `tankworld`, then wait for all; one still
    running after timeout seconds is killed."""
    for p in procs:
        p.send_signal(signal.SIGINT)
    for p in procs:
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def valgrind_or_skip():
    """Ends a valgrind test as a TAP skip where valgrind cannot run: in the sanitizer
    build (valgrind does not run ASan binaries), or where it is not installed."""
    why = ("valgrind does not run ASan binaries" if os.environ.get("TW_SANITIZERS") == "yes"
           else None if shutil.which("valgrind") else "valgrind is not installed")
    if why:
        print("1..0 # SKIP " + why)
        sys.exit(0)


class StubServer:
    """A stand-in HTTP server on loopback for the side of a conversation a test plays
    itself (a hub, an etcd, an original server). route(method, path, body) returns
    (status, answer): a dict or list is sent as JSON, bytes as they are (garbage).
    port 0 takes a free one; .port says which. cors: answers carry
    Access-Control-Allow-Origin: * (a server a browser page asks, as simd's GETs do)."""

    def __init__(self, route, port=0, cors=False):
        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _do(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                status, answer = route(self.command, self.path, body)
                data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if cors:
                    self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _do

        class S(http.server.ThreadingHTTPServer):
            request_queue_size = 128  # socketserver's 5 drops bursts on a loaded machine

        self.httpd = S(("127.0.0.1", port), H)
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def base_ports(n):
    """n free base ports, each with its two successors free too (a server's three)."""
    return [_free_ports(3) for _ in range(n)]


if __name__ == "__main__" and sys.argv[1:2] == ["--health-probe"]:
    try:
        _health_probe(sys.argv[2], float(sys.argv[3]))
    except (KeyboardInterrupt, BrokenPipeError):
        pass
