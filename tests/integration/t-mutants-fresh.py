#!/usr/bin/env python3
"""Every mutant of tests/mutants/mutants.txt still finds its code: its `find` text occurs
exactly once in its file. `make mutants` takes half an hour; this check takes a moment,
so code that moves (or is reformatted) without its mutants fails the ordinary suite."""
import importlib.util
import os
import sys

SRC = os.environ.get("abs_top_srcdir", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
from twlib import Tap  # noqa: E402

spec = importlib.util.spec_from_file_location("mutants_run", os.path.join(SRC, "tests", "mutants", "run.py"))
run = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run)

t = Tap()
mutants = run.parse(os.path.join(SRC, "tests", "mutants", "mutants.txt"))
t.ok(len(mutants) >= 30, "the list holds %d mutants" % len(mutants))
names = [m["name"] for m in mutants]
t.eq(sorted(set(n for n in names if names.count(n) > 1)), [], "mutant names are unique")
for m in mutants:
    path = os.path.join(SRC, m["file"])
    text = open(path, encoding="utf-8").read() if os.path.isfile(path) else ""
    n = text.count(m["find"])
    t.ok(n == 1, "%s: its code occurs once in %s" % (m["name"], m["file"]), "found %d times" % n)
    t.ok(m["find"] != m["replace"], "%s: changes something" % m["name"])
    for test in m["tests"].split():
        # a unit test is named by its program; its source is PROGRAM.c
        exists = os.path.isfile(os.path.join(SRC, test)) or os.path.isfile(os.path.join(SRC, test + ".c"))
        t.ok(exists, "%s: its test %s exists" % (m["name"], test))
t.done()
