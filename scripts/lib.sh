# Shell functions shared by the scripts that install what they need (setup-test-env.sh,
# build-image.sh, bench.sh). Sourced, never run: `source scripts/lib.sh` from the repository
# root.
# shellcheck shell=bash

# Runs a command as root: directly when root already, otherwise through sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# apt_install WHO [PACKAGE...]: installs the PACKAGEs with apt (none given: does nothing),
# saying so as WHO.
apt_install() {
  local who=$1
  shift
  [ "$#" -gt 0 ] || return 0
  echo "$who: installing $* (apt)"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -q
  as_root apt-get install -y -q --no-install-recommends "$@"
}

# add_rust_targets WHO TRIPLE...: adds each rustup target not installed yet, saying so as WHO.
add_rust_targets() {
  local who=$1 triple
  shift
  for triple in "$@"; do
    if ! rustup target list --installed | grep -qx "$triple"; then
      echo "$who: adding the $triple target"
      rustup target add "$triple"
    fi
  done
}
