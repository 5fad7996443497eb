#!/bin/sh
# Replay the etcd-kv corpus (plus deterministic mutations) through fuzz-etcd-kv; prints
# TAP. Run by `make check`, which exports abs_top_builddir and abs_top_srcdir.
exec "${abs_top_builddir:?}/tests/fuzz/fuzz-etcd-kv" "${abs_top_srcdir:?}/tests/fuzz/corpus/etcd-kv"
