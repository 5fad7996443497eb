#!/bin/sh
# Replay the fish-json corpus (plus deterministic mutations) through fuzz-fish-json; prints TAP.
# Run by `make check`, which exports abs_top_builddir and abs_top_srcdir.
exec "${abs_top_builddir:?}/tests/fuzz/fuzz-fish-json" "${abs_top_srcdir:?}/tests/fuzz/corpus/fish-json"
