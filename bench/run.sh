#!/usr/bin/env bash
# make bench: benchmarks, never run in CI, bounded in time, loopback only.
# Today: the yamux engine alone in memory (bench_mux). The end-to-end
# benchmark against peers comes with the gateway.
set -eu
cd "$(dirname "$0")/.."
echo "== yamux engine, two engines back to back in memory (build/rel/tools/bench_mux)"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(uname -r)"
build/rel/tools/bench_mux "${BENCH_SECONDS:-2}"
