#!/bin/sh
# Replay the connection corpus (plus deterministic mutations) through fuzz-connection;
# prints TAP. Run by `make check`, which exports abs_top_builddir and abs_top_srcdir.
exec "${abs_top_builddir:?}/tests/fuzz/fuzz-connection" "${abs_top_srcdir:?}/tests/fuzz/corpus/connection"
