#!/usr/bin/env python3
"""make mutants: break the code that guards our promises, one small named change at a
time, and check that the tests meant to guard it fail.

tests/mutants/mutants.txt lists the mutants, blocks separated by blank lines:

    name: journal-skips-fdatasync
    guards: durability
    file: simd/journal.c
    find: if (fdatasync(j->fd) < 0)
    replace: if (0)
    tests: tests/integration/t-powerloss.py

`find` must occur exactly once in `file` (else the mutant is stale: the code moved, and
the list must follow it). Each mutant is applied to a copy of the tracked tree, built
incrementally, and its tests are run; a failing test kills it. The score is killed over
killed plus survived; a mutant that does not compile is reported apart and not scored.
Exit status 0 when the score reaches MUTANTS_MIN_SCORE (default 100: every mutant is a
promise some test keeps, so a survivor is a hole, and at 90 two survivors once passed
unnoticed) and none is stale.

MUTANTS=name1,name2 runs a subset; MUTANTS_JOBS sets make -j (default 2); MUTANTS_KEEP=1
keeps the copy and its test logs."""
import os
import shutil
import subprocess
import sys
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LIST = os.path.join(TOP, "tests", "mutants", "mutants.txt")
WORK = os.environ.get("MUTANTS_DIR", "/tmp/tankworld-mutants")
JOBS = os.environ.get("MUTANTS_JOBS", "2")
TIMEOUT = int(os.environ.get("MUTANTS_TIMEOUT", "900"))


def parse(path):
    out, cur = [], {}
    for raw in open(path, encoding="utf-8").read().split("\n") + [""]:
        line = raw.rstrip()
        if line.startswith("#"):
            continue
        if not line:
            if cur:
                out.append(cur)
                cur = {}
            continue
        k, _, v = line.partition(":")
        cur[k.strip()] = v.strip()
    for m in out:
        for k in ("name", "guards", "file", "find", "replace", "tests"):
            if k not in m:
                sys.exit("mutants.txt: mutant %r lacks %r" % (m.get("name"), k))
        m["find"] = m["find"].replace("\\n", "\n").replace("\\t", "\t")
        m["replace"] = m["replace"].replace("\\n", "\n").replace("\\t", "\t")
    return out


def run(cmd, cwd, timeout=None, quiet=True):
    # errors="replace": a broken build's tests may print any bytes (test-conf under
    # conf-number-range-unchecked printed a cut UTF-8 sequence and stopped the run).
    return subprocess.run(cmd, cwd=cwd, timeout=timeout, stdout=subprocess.PIPE if quiet else None,
                          stderr=subprocess.STDOUT if quiet else None, text=True, errors="replace")


def prepare():
    src = os.path.join(WORK, "src")
    build = os.path.join(WORK, "build")
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(src)
    files = subprocess.run(["git", "ls-files", "-z"], cwd=TOP, stdout=subprocess.PIPE, check=True).stdout.split(b"\0")
    for f in files:
        if not f:
            continue
        f = f.decode()
        s = os.path.join(TOP, f)
        if not os.path.isfile(s):
            continue
        d = os.path.join(src, f)
        os.makedirs(os.path.dirname(d), exist_ok=True)
        shutil.copy2(s, d)
    # The browser tests drive chromium through the npm packages ./bootstrap installed:
    # without them a browser test would fail at once, and "kill" its mutant for nothing.
    modules = os.path.join(TOP, "node_modules")
    if os.path.isdir(modules):
        os.symlink(modules, os.path.join(src, "node_modules"))
    print("mutants: building a copy of the tree in %s" % WORK, flush=True)
    r = run(["autoreconf", "-fi"], src)
    if r.returncode:
        sys.exit("autoreconf failed:\n" + r.stdout[-2000:])
    os.makedirs(build)
    r = run([os.path.join(src, "configure"), "-q"], build)
    if r.returncode:
        sys.exit("configure failed:\n" + r.stdout[-2000:])
    r = run(["make", "-j" + JOBS], build)
    if r.returncode:
        sys.exit("the unmutated tree does not build:\n" + r.stdout[-3000:])
    return src, build


def main():
    # It takes no arguments: `run.py --help` used to start the whole run (26 minutes).
    if len(sys.argv) > 1:
        sys.exit(__doc__ + "\n\nusage: [MUTANTS=a,b] tests/mutants/run.py (no arguments)")
    mutants = parse(LIST)
    only = [x for x in os.environ.get("MUTANTS", "").split(",") if x]
    unknown = [x for x in only if x not in {m["name"] for m in mutants}]
    if unknown:
        sys.exit("mutants: no mutant named %s in %s" % (", ".join(unknown), LIST))
    if only:
        mutants = [m for m in mutants if m["name"] in only]
    # Check every mutant against the real tree first: a stale list fails fast.
    stale = []
    for m in mutants:
        text = open(os.path.join(TOP, m["file"]), encoding="utf-8").read()
        n = text.count(m["find"])
        if n != 1:
            stale.append((m["name"], "%s: 'find' occurs %d times" % (m["file"], n)))
    src, build = prepare()
    results = []
    for i, m in enumerate(mutants, 1):
        if any(m["name"] == s[0] for s in stale):
            continue
        path = os.path.join(src, m["file"])
        orig = open(path, encoding="utf-8").read()
        with open(path, "w", encoding="utf-8") as f:
            f.write(orig.replace(m["find"], m["replace"], 1))
        t0 = time.time()
        try:
            b = run(["make", "-j" + JOBS], build)
            if b.returncode:
                verdict = "stillborn"
            else:
                try:
                    r = run(["make", "check", "TESTS=" + m["tests"]], build, timeout=TIMEOUT)
                    verdict = "killed" if r.returncode else "SURVIVED"
                except subprocess.TimeoutExpired:
                    verdict = "killed"  # a hang is a failure the tests noticed
        finally:
            with open(path, "w", encoding="utf-8") as f:
                f.write(orig)
            now = time.time()
            os.utime(path, (now, now))  # rebuild from the original next time
        results.append((m, verdict))
        print("mutant %2d/%d %-34s %-12s %-9s (%.0f s)" % (i, len(mutants), m["name"], m["guards"], verdict,
                                                       time.time() - t0), flush=True)
    killed = sum(1 for _, v in results if v == "killed")
    survived = [m["name"] for m, v in results if v == "SURVIVED"]
    still = [m["name"] for m, v in results if v == "stillborn"]
    scored = killed + len(survived)
    score = 100.0 * killed / scored if scored else 0.0
    for name, why in stale:
        print("stale mutant %s: %s" % (name, why))
    if still:
        print("did not compile (not scored): " + ", ".join(still))
    if survived:
        print("survived: " + ", ".join(survived))
    print("mutants: %d killed, %d survived, %d stale, score %.1f%%" % (killed, len(survived), len(stale), score))
    need = float(os.environ.get("MUTANTS_MIN_SCORE", "100"))
    if not os.environ.get("MUTANTS_KEEP"):
        shutil.rmtree(WORK, ignore_errors=True)
    sys.exit(0 if score >= need and not stale else 1)


if __name__ == "__main__":
    main()
