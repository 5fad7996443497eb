#!/bin/sh
# Replay the legacy-fish corpus (plus deterministic mutations) through fuzz-legacy-fish;
# prints TAP. Run by `make check`, which exports abs_top_builddir and abs_top_srcdir.
exec "${abs_top_builddir:?}/tests/fuzz/fuzz-legacy-fish" "${abs_top_srcdir:?}/tests/fuzz/corpus/legacy-fish"
