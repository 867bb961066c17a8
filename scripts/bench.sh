#!/usr/bin/env bash
# Benchmarks, side by side on this machine, everything on 127.0.0.1 (README "Benchmarks";
# BENCHMARKS.md holds the latest results and the method).
#
#   scripts/bench.sh            full run (about 7 minutes), release build
#   scripts/bench.sh --only tls one part (cold, stack or tls)
#   scripts/bench.sh --smoke    short run of the debug build that keeps the benchmarks working
#                               (CI); its numbers mean nothing
#
# This script installs what the benchmarks need when it is missing (wrk, skopeo, nginx-light,
# docker-registry; cargo-lambda through scripts/setup-test-env.sh), then runs them:
# `mquery-bench-tools bench` (tests/src/bin/bench_tools/bench.rs says what each part measures
# and what fails the run) builds the binaries it measures, in the same profile as itself, and
# writes the Markdown report to target/bench/report.md. Speed is reported, never asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v skopeo >/dev/null || need+=(skopeo)
[ -x /usr/sbin/nginx ] || need+=(nginx-light)
[ -x /usr/bin/docker-registry ] || need+=(docker-registry)
apt_install bench "${need[@]}"
[ -x .cache/venv/bin/cargo-lambda ] || { echo "bench: cargo-lambda missing: running scripts/setup-test-env.sh"; scripts/setup-test-env.sh; }

# the smoke run reuses the test command's debug build: it asserts no speed, so an optimized
# build of its own would only cost CI minutes
profile=release dir=release
[ "${1:-}" = "--smoke" ] && profile=dev dir=debug
cargo build --profile "$profile" --locked -q -p mquery-tests --bin mquery-bench-tools
# run directly rather than by `cargo run`, so the processes it measures get this environment,
# not one with cargo's variables and library path added
exec "${CARGO_TARGET_DIR:-target}/$dir/mquery-bench-tools" bench "$@"
