#!/usr/bin/env bash
# The test command (README "Testing"; CI runs exactly this through .ci/run).
# Installs what is missing, then: format check, clippy with warnings as errors, the CLI's
# container image, the suite, the SAM template checks, the arm64 Lambda build, a bounded
# fuzzing run and a benchmark smoke.
set -euo pipefail
cd "$(dirname "$0")/.."

# one build, never edited between runs: incremental state only costs disk (gigabytes) and time
export CARGO_INCREMENTAL=0

scripts/setup-test-env.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== the CLI's container image (static musl binaries, FROM scratch; the container tests use it)"
scripts/build-image.sh --profile smoke
echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
echo "== cargo install --path cli (the README's install, in the debug profile: it reuses the suite's build)"
install_root=$(mktemp -d)
cargo install --path cli --debug --locked --root "$install_root" -q
"$install_root/bin/mquery" --version
rm -rf "$install_root"
echo "== template.yaml"
scripts/validate-template.sh
echo "== arm64 Lambda build"
scripts/build-lambda.sh arm64
echo "== fuzzing (bounded)"
scripts/fuzz.sh 20
echo "== benchmark smoke (keeps scripts/bench.sh working; asserts no speed)"
scripts/bench.sh --smoke
