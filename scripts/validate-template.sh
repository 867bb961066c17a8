#!/usr/bin/env bash
# Validates template.yaml: cfn-lint on the SAM template, then cfn-lint on its expansion into
# plain CloudFormation (aws-sam-translator, offline). Then proves the check can fail: copies
# with a wrong Runtime, a dangling !Ref or a wrong Architecture must be rejected.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.cache/venv
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

validate() {
  local template=$1 expanded=$2
  "$venv/bin/cfn-lint" --non-zero-exit-code error -- "$template" &&
    "$venv/bin/python" scripts/sam_expand.py "$template" "$expanded" &&
    "$venv/bin/cfn-lint" --non-zero-exit-code error -- "$expanded"
}

echo "template: cfn-lint on template.yaml and on its SAM expansion"
validate template.yaml "$tmp/expanded.json"
grep -q '"Runtime": "provided.al2023"' "$tmp/expanded.json"
grep -q '"AttributeName": "expires_at"' "$tmp/expanded.json"
# the cost bounds reach the deployed resources
grep -q '"ThrottlingRateLimit"' "$tmp/expanded.json"
grep -q '"ThrottlingBurstLimit"' "$tmp/expanded.json"
grep -q '"ReservedConcurrentExecutions"' "$tmp/expanded.json"

# each of these mistakes must be caught
broken=(
  's/Runtime: provided.al2023/Runtime: provided.al2099/'
  's/Resource: !GetAtt CacheTable.Arn/Resource: !GetAtt MissingTable.Arn/'
  's/        - !Ref Architecture/        - sparc64/'
)
for edit in "${broken[@]}"; do
  sed -e "$edit" template.yaml > "$tmp/broken.yaml"
  if cmp -s template.yaml "$tmp/broken.yaml"; then
    echo "template: the edit '$edit' no longer applies; update this script" >&2
    exit 1
  fi
  if validate "$tmp/broken.yaml" "$tmp/broken.json" > "$tmp/broken.log" 2>&1; then
    echo "template: the validation accepted a broken template ($edit)" >&2
    exit 1
  fi
done
echo "template: ok (and ${#broken[@]} broken copies are rejected)"
