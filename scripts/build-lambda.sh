#!/usr/bin/env bash
# Cross-builds the Lambda function with cargo-lambda (zig as the linker) and checks what came
# out: target/lambda/mquery-lambda/bootstrap, an ELF for the requested architecture.
#   scripts/build-lambda.sh [arm64|x86_64]
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${1:-arm64}
case "$arch" in
  arm64) flag=--arm64 machine=AArch64 ;;
  x86_64) flag=--x86-64 machine=X86-64 ;;
  *) echo "architecture must be arm64 or x86_64" >&2; exit 2 ;;
esac
export PATH="$PWD/.cache/venv/bin:$PATH"
cargo lambda build --release "$flag" --bin mquery-lambda
bootstrap=target/lambda/mquery-lambda/bootstrap
python3 - "$bootstrap" "$machine" <<'PY'
import struct, sys
path, want = sys.argv[1], sys.argv[2]
with open(path, "rb") as f:
    header = f.read(20)
assert header[:4] == b"\x7fELF", f"{path} is not an ELF file"
machine = struct.unpack_from("<H", header, 18)[0]
names = {0xB7: "AArch64", 0x3E: "X86-64"}
got = names.get(machine, hex(machine))
assert got == want, f"{path} is for {got}, expected {want}"
PY
echo "lambda: $bootstrap ($arch, $(stat -c %s "$bootstrap") bytes)"
