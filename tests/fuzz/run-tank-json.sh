#!/bin/sh
# Replay the tank-json corpus (plus deterministic mutations) through fuzz-tank-json; prints TAP.
# Run by `make check`, which exports abs_top_builddir and abs_top_srcdir.
exec "${abs_top_builddir:?}/tests/fuzz/fuzz-tank-json" "${abs_top_srcdir:?}/tests/fuzz/corpus/tank-json"
