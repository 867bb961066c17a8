#!/usr/bin/env bash
# Fuzzes the reference parser, the platform parser, the manifest summarizer, the cache
# store's decode path, the stack scanner (one file, and files naming each other) and a pull
# token's claims (what it grants) with
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
# The scanner's hostile inputs are small files that cost memory or time out of all proportion
# (alias and merge-key bombs, deep nesting, ARG expansions; stack/src/limits.rs bounds them), so
# its run holds each input to limits that only such an amplification reaches. libFuzzer's
# inputs stay under 4 KiB (-max_len's default) and a bounded scan of one needs a few MiB, but
# AddressSanitizer keeps up to 256 MiB of freed memory in quarantine and its shadow on top: an
# RSS of 1 GiB (half libFuzzer's default 2 GiB), any single allocation of 512 MiB, and 10 s for
# one input (the default is 20 minutes, longer than the whole run) are crashes.
target_flags() {
  case "$1" in
    scan | scan_files) echo "-rss_limit_mb=1024 -malloc_limit_mb=512 -timeout=10" ;;
    *) echo "" ;;
  esac
}
for target in reference platform manifest store scan scan_files token_claims; do
  corpus="target/fuzz-corpus/$target"
  mkdir -p "$corpus"
  cp fuzz/corpus/"$target"/* "$corpus"/
  echo "fuzz: $target for ${seconds}s"
  log="target/fuzz-$target.log"
  status=0
  read -r -a flags <<< "$(target_flags "$target")"
  (cd fuzz && cargo fuzz run "$target" "../$corpus" -- -max_total_time="$seconds" -print_final_stats=1 "${flags[@]}") \
    > "$log" 2>&1 || status=$?
  grep -E '^(Done|==[0-9]+== ?ERROR|thread .* panicked|SUMMARY|Test unit written)' "$log" || true
  if [ "$status" -ne 0 ] || compgen -G "fuzz/artifacts/$target/*" >/dev/null; then
    tail -n 40 "$log" >&2
    echo "fuzz: $target failed (exit $status); inputs: $(ls fuzz/artifacts/"$target" 2>/dev/null)" >&2
    exit 1
  fi
done
echo "fuzz: no crash"
