#!/usr/bin/env bash
# Builds mquery-lambda for Lambda and deploys template.yaml with AWS SAM.
#
#   scripts/deploy.sh [STACK_NAME] [arm64|x86_64]
#
# Needs: AWS credentials in the environment (or a profile), the SAM CLI (`pip install
# aws-sam-cli`), and cargo-lambda (`pip install cargo-lambda`, which brings zig for the
# cross-build). The build path is the one CI checks: cargo lambda build --release.
set -euo pipefail
cd "$(dirname "$0")/.."
stack=${1:-mquery}
arch=${2:-arm64}
case "$arch" in
  arm64) flag=--arm64 ;;
  x86_64) flag=--x86-64 ;;
  *) echo "architecture must be arm64 or x86_64" >&2; exit 2 ;;
esac

# 1. The function: target/lambda/mquery-lambda/bootstrap (SAM's rust-cargolambda build does
#    the same; building first fails fast and shows compiler output plainly).
cargo lambda build --release "$flag" --bin mquery-lambda

# 2. The stack: function, HTTP API, DynamoDB table with TTL on expires_at.
sam build --beta-features --parameter-overrides "Architecture=$arch"
sam deploy \
  --stack-name "$stack" \
  --resolve-s3 \
  --capabilities CAPABILITY_IAM \
  --no-fail-on-empty-changeset \
  --parameter-overrides "Architecture=$arch"

url=$(aws cloudformation describe-stacks --stack-name "$stack" \
  --query "Stacks[0].Outputs[?OutputKey=='ApiUrl'].OutputValue" --output text)
echo "deployed: ${url}v1/inspect?image=alpine"
