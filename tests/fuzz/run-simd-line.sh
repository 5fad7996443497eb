#!/bin/sh
# Replay the simd-line corpus (plus deterministic mutations) through fuzz-simd-line;
# prints TAP. Run by `make check`, which exports abs_top_builddir and abs_top_srcdir.
exec "${abs_top_builddir:?}/tests/fuzz/fuzz-simd-line" "${abs_top_srcdir:?}/tests/fuzz/corpus/simd-line"
