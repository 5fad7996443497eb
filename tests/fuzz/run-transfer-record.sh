#!/bin/sh
# Replay the transfer-record corpus (plus deterministic mutations) through fuzz-transfer-record;
# prints TAP. Run by `make check`, which exports abs_top_builddir and abs_top_srcdir.
exec "${abs_top_builddir:?}/tests/fuzz/fuzz-transfer-record" "${abs_top_srcdir:?}/tests/fuzz/corpus/transfer-record"
