#!/usr/bin/env bash
# Fuzzes the reference parser, the platform parser, the manifest summarizer and the cache
# store's decode path with
# cargo-fuzz (libFuzzer + AddressSanitizer) for a bounded time each:
#   scripts/fuzz.sh [SECONDS_PER_TARGET]     (default 20)
# Seeds are the committed corpus in fuzz/corpus/TARGET; the run grows a copy under
# target/fuzz-corpus so the repository keeps only its seeds. A crash fails the run and
# leaves its input in fuzz/artifacts/TARGET/: turn it into a regression test.
# The stable toolchain is the only one here: RUSTC_BOOTSTRAP=1 lets it take the sanitizer
# flags cargo-fuzz passes.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
if ! cargo fuzz --version 2>/dev/null | grep -q '0.13.2'; then
  echo "fuzz: installing cargo-fuzz 0.13.2"
  cargo install cargo-fuzz --version 0.13.2 --locked
fi
export RUSTC_BOOTSTRAP=1
for target in reference platform manifest store; do
  corpus="target/fuzz-corpus/$target"
  mkdir -p "$corpus"
  cp fuzz/corpus/"$target"/* "$corpus"/
  echo "fuzz: $target for ${seconds}s"
  log="target/fuzz-$target.log"
  status=0
  (cd fuzz && cargo fuzz run "$target" "../$corpus" -- -max_total_time="$seconds" -print_final_stats=1) \
    > "$log" 2>&1 || status=$?
  grep -E '^(Done|==[0-9]+==ERROR|thread .* panicked|SUMMARY|Test unit written)' "$log" || true
  if [ "$status" -ne 0 ] || compgen -G "fuzz/artifacts/$target/*" >/dev/null; then
    tail -n 40 "$log" >&2
    echo "fuzz: $target failed (exit $status); inputs: $(ls fuzz/artifacts/"$target" 2>/dev/null)" >&2
    exit 1
  fi
done
echo "fuzz: no crash"
