#!/usr/bin/env bash
# Validates template.yaml: cfn-lint on the SAM template, then cfn-lint on its expansion into
# plain CloudFormation (aws-sam-translator, offline), then checkov on both (offline; the checks
# that do not apply are skipped in the template, each with its reason). Then proves the checks
# can fail: copies with a wrong Runtime, a dangling !Ref or a wrong Architecture must be
# rejected, and copies without the API's access log or the log groups' retention must be
# failed by checkov.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.cache/venv
checkov_venv=.cache/checkov-venv
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ ! -x "$checkov_venv/bin/checkov" ]; then
  echo "template: $checkov_venv/bin/checkov is missing: run scripts/setup-test-env.sh" >&2
  exit 1
fi
# checkov offline: --skip-download and BC_SKIP_MAPPING=TRUE stop its calls to the Prisma Cloud
# API (policy metadata, guidelines), CKV_SKIP_PACKAGE_UPDATE_CHECK its version check on PyPI;
# inside an empty network namespace (unshare -n) when this user may make one, so that nothing
# can leave even if a later version adds a call
sandbox=()
if unshare -n true 2>/dev/null; then
  sandbox=(unshare -n)
fi
checkov() {
  BC_SKIP_MAPPING=TRUE CKV_SKIP_PACKAGE_UPDATE_CHECK=true "${sandbox[@]}" \
    "$checkov_venv/bin/checkov" --skip-download --framework cloudformation --quiet --compact \
    "$@"
}

validate() {
  local template=$1 expanded=$2
  "$venv/bin/cfn-lint" --non-zero-exit-code error -- "$template" &&
    "$venv/bin/python" scripts/sam_expand.py "$template" "$expanded" &&
    "$venv/bin/cfn-lint" --non-zero-exit-code error -- "$expanded" &&
    checkov -f "$template" -f "$expanded"
}

echo "template: cfn-lint and checkov on template.yaml and on its SAM expansion"
validate template.yaml "$tmp/expanded.json"
grep -q '"Runtime": "provided.al2023"' "$tmp/expanded.json"
grep -q '"AttributeName": "expires_at"' "$tmp/expanded.json"
# the cost bounds reach the deployed resources
grep -q '"ThrottlingRateLimit"' "$tmp/expanded.json"
grep -q '"ThrottlingBurstLimit"' "$tmp/expanded.json"
grep -q '"ReservedConcurrentExecutions"' "$tmp/expanded.json"
# the logs: the stage's access log and the function's log group, both with a retention
grep -q '"AccessLogSettings"' "$tmp/expanded.json"
grep -q '"LoggingConfig"' "$tmp/expanded.json"
[ "$(grep -c '"RetentionInDays"' "$tmp/expanded.json")" -eq 2 ]

# break_copy EDIT: writes $tmp/broken.yaml, template.yaml with the sed script EDIT applied
break_copy() {
  local edit=$1
  sed -e "$edit" template.yaml > "$tmp/broken.yaml"
  if cmp -s template.yaml "$tmp/broken.yaml"; then
    echo "template: the edit '$edit' no longer applies; update this script" >&2
    exit 1
  fi
}

# each of these mistakes must be caught
broken=(
  's/Runtime: provided.al2023/Runtime: provided.al2099/'
  's/Resource: !GetAtt CacheTable.Arn/Resource: !GetAtt MissingTable.Arn/'
  's/        - !Ref Architecture/        - sparc64/'
)
for edit in "${broken[@]}"; do
  break_copy "$edit"
  if validate "$tmp/broken.yaml" "$tmp/broken.json" > "$tmp/broken.log" 2>&1; then
    echo "template: the validation accepted a broken template ($edit)" >&2
    exit 1
  fi
done

# each of these is valid CloudFormation that drops what an operator needs: checkov must fail
# it, with the check named before the edit
insecure=(
  'CKV_AWS_95 /^      AccessLogSettings:$/,/"userAgent"/d'
  'CKV_AWS_66 /RetentionInDays: /d'
)
for entry in "${insecure[@]}"; do
  check=${entry%% *}
  edit=${entry#* }
  break_copy "$edit"
  if validate "$tmp/broken.yaml" "$tmp/broken.json" > "$tmp/broken.log" 2>&1; then
    echo "template: the validation accepted a template without what $check asks ($edit)" >&2
    exit 1
  fi
  if ! grep -q "Check: $check:" "$tmp/broken.log"; then
    echo "template: a template without what $check asks was rejected, but not by checkov's $check ($edit):" >&2
    cat "$tmp/broken.log" >&2
    exit 1
  fi
done
echo "template: ok (and $((${#broken[@]} + ${#insecure[@]})) broken copies are rejected)"
