#!/bin/sh
# Replay the server-info corpus (plus deterministic mutations) through fuzz-server-info;
# prints TAP. Run by `make check`, which exports abs_top_builddir and abs_top_srcdir.
exec "${abs_top_builddir:?}/tests/fuzz/fuzz-server-info" "${abs_top_srcdir:?}/tests/fuzz/corpus/server-info"
