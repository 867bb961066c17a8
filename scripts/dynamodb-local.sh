#!/usr/bin/env bash
# Runs DynamoDB Local with the cache table, for running the service against a real table:
#   scripts/dynamodb-local.sh [PORT]          (default 8000; Ctrl-C stops it)
# then, in another shell:
#   MQUERY_TABLE=mquery-cache AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8000 \
#   AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local \
#   cargo run --release --bin mquery-lambda
set -euo pipefail
cd "$(dirname "$0")/.."
port=${1:-8000}
scripts/setup-test-env.sh >/dev/null
dir=$PWD/.cache/dynamodb-local
# in its own directory (it writes a metadata file), with telemetry off
(cd "$dir" && exec java -Djava.library.path="$dir/DynamoDBLocal_lib" -jar "$dir/DynamoDBLocal.jar" \
  -inMemory -sharedDb -disableTelemetry -port "$port") &
pid=$!
trap 'kill $pid' EXIT INT TERM
for _ in $(seq 100); do
  if .cache/venv/bin/python scripts/create-table.py --endpoint "http://127.0.0.1:$port" --table mquery-cache 2>/dev/null; then
    break
  fi
  sleep 0.2
done
wait $pid
