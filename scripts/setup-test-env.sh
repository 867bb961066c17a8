#!/usr/bin/env bash
# Installs what the test suite needs, idempotently: each step checks first and installs only
# what is missing, so a second run changes nothing.
#   - docker-registry (Debian): the real CNCF distribution registry the tests start
set -euo pipefail

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_packages=()
[ -x /usr/bin/docker-registry ] || apt_packages+=(docker-registry)

if [ "${#apt_packages[@]}" -gt 0 ]; then
  echo "setup: installing ${apt_packages[*]} (apt)"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -q
  as_root apt-get install -y -q --no-install-recommends "${apt_packages[@]}"
fi
