#!/bin/sh
# Replay the conf corpus (plus deterministic mutations) through fuzz-conf; prints TAP.
# Run by `make check`, which exports abs_top_builddir and abs_top_srcdir.
exec "${abs_top_builddir:?}/tests/fuzz/fuzz-conf" "${abs_top_srcdir:?}/tests/fuzz/corpus/conf"
