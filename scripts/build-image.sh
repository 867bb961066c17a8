#!/usr/bin/env bash
# Builds the mquery CLI as a multi-platform container image, idempotently:
#   1. static (musl) binaries for linux/amd64 and linux/arm64 with `cargo zigbuild`, copied to
#      dist/amd64/mquery and dist/arm64/mquery and checked (ELF for the right machine, no
#      interpreter, no shared libraries);
#   2. the Dockerfile built once per platform with podman, into the local manifest list
#      localhost/mquery:latest (its images are tagged localhost/mquery:linux-amd64 and
#      localhost/mquery:linux-arm64);
#   3. with --push REF: the index and both images pushed to REF in OCI format;
#   4. with --load: this machine's image loaded into the Docker engine as localhost/mquery:latest.
#
#   scripts/build-image.sh [--profile NAME] [--push REGISTRY/REPO:TAG] [--load]
#
# --profile: the Cargo profile of the binaries (default `release`: fat LTO, what a published
# image holds; CI passes `smoke`). A registry at 127.0.0.1:PORT or localhost:PORT is pushed to
# over plain HTTP, any other over HTTPS with the usual credentials (`podman login`).
#
# What it needs is installed when missing: podman and runc (apt), cargo-zigbuild and zig
# (PyPI, pinned in scripts/requirements-ci.txt, into .cache/venv), the two musl targets
# (rustup). Podman runs with the settings it writes to .cache/podman/ (vfs storage in
# .cache/podman/storage, cgroupfs, runc); to look at the result with podman yourself:
#   export CONTAINERS_CONF=$PWD/.cache/podman/containers.conf
#   export CONTAINERS_STORAGE_CONF=$PWD/.cache/podman/storage.conf
# The whole run holds a lock (.cache/podman/build-image.lock), so parallel callers (test
# processes) wait for each other; when the binaries, the Dockerfile and the labels are those
# of the last build, the image is not rebuilt.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
source scripts/lib.sh

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; }

profile=release
push=
load=
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile=${2:?--profile needs a name}; shift 2 ;;
    --profile=*) profile=${1#--profile=}; shift ;;
    --push) push=${2:?--push needs REGISTRY/REPO:TAG}; shift 2 ;;
    --push=*) push=${1#--push=}; shift ;;
    --load) load=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "build-image: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done

podman_dir=$root/.cache/podman
mkdir -p "$podman_dir"

exec 9>"$podman_dir/build-image.lock"
if ! flock -w 3600 9; then
  echo "build-image: another build held $podman_dir/build-image.lock for an hour" >&2
  exit 1
fi

# --- tools -----------------------------------------------------------------------------------

apt_packages=()
command -v podman >/dev/null 2>&1 || apt_packages+=(podman)
command -v runc >/dev/null 2>&1 || apt_packages+=(runc)
apt_install build-image "${apt_packages[@]}"

venv=.cache/venv
pins=$(grep -E '^(cargo-zigbuild|ziglang)==' scripts/requirements-ci.txt)
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
installed=$("$venv/bin/python" - <<'PY'
import importlib.metadata as m
for name in ("cargo-zigbuild", "ziglang"):
    try:
        print(f"{name}=={m.version(name)}")
    except m.PackageNotFoundError:
        pass
PY
)
if [ "$(sort <<<"$pins")" != "$(sort <<<"$installed")" ]; then
  echo "build-image: installing $(tr '\n' ' ' <<<"$pins")into $venv"
  # shellcheck disable=SC2086 # one requirement per word
  "$venv/bin/pip" install -q --disable-pip-version-check $pins
fi
# cargo-zigbuild finds zig through `python3 -m ziglang`: the venv's python must come first
export PATH="$root/$venv/bin:$PATH"

add_rust_targets build-image x86_64-unknown-linux-musl aarch64-unknown-linux-musl

# --- podman settings (the tests use the same files: tests/src/podman.rs) ----------------------

# Storage and podman's database live in the project; the run state (mounts, locks, conmon
# sockets) on a tmpfs, as podman expects, in a directory of this checkout's own.
state=${XDG_RUNTIME_DIR:-/run}/mquery-podman-$(printf %s "$root" | sha256sum | cut -c1-12)
write_if_changed() { # FILE, content on stdin
  local tmp
  tmp=$(mktemp "$1.XXXXXX")
  cat >"$tmp"
  if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv -f "$tmp" "$1"; fi
}
write_if_changed "$podman_dir/containers.conf" <<EOF
# Written by scripts/build-image.sh: podman without systemd, journald or a storage driver
# needing kernel support.
[containers]
default_ulimits = []
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
tmp_dir = "$state/libpod"
EOF
write_if_changed "$podman_dir/storage.conf" <<EOF
# Written by scripts/build-image.sh.
[storage]
driver = "vfs"
graphroot = "$podman_dir/storage"
runroot = "$state/storage"
EOF
export CONTAINERS_CONF=$podman_dir/containers.conf
export CONTAINERS_STORAGE_CONF=$podman_dir/storage.conf

# --- binaries --------------------------------------------------------------------------------

target_dir=${CARGO_TARGET_DIR:-target}
case "$profile" in
  dev | test) profile_dir=debug ;;
  bench) profile_dir=release ;;
  *) profile_dir=$profile ;;
esac

started=$(date +%s)
# one cargo run for both targets: build scripts and proc macros are compiled once
cargo zigbuild --locked --profile "$profile" -p mquery-cli --bin mquery \
  --target x86_64-unknown-linux-musl --target aarch64-unknown-linux-musl
echo "build-image: cargo zigbuild --profile $profile: $(($(date +%s) - started)) s"

check_static_elf() { # PATH MACHINE: an ELF for MACHINE with no interpreter and no DT_NEEDED
  python3 - "$1" "$2" <<'PY'
import struct, sys
path, want = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
assert data[:4] == b"\x7fELF", f"{path} is not an ELF file"
assert data[4] == 2 and data[5] == 1, f"{path} is not a 64-bit little-endian ELF"
machine = struct.unpack_from("<H", data, 18)[0]
names = {0xB7: "AArch64", 0x3E: "X86-64"}
got = names.get(machine, hex(machine))
assert got == want, f"{path} is for {got}, expected {want}"
phoff = struct.unpack_from("<Q", data, 32)[0]
phentsize, phnum = struct.unpack_from("<HH", data, 54)
for i in range(phnum):
    p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", data, phoff + i * phentsize)
    assert p_type != 3, f"{path} has an interpreter (PT_INTERP): it is not static"
    if p_type == 2:  # PT_DYNAMIC (a static-pie binary has one): no DT_NEEDED entry
        for off in range(p_offset, p_offset + p_filesz, 16):
            tag = struct.unpack_from("<q", data, off)[0]
            if tag == 0:
                break
            assert tag != 1, f"{path} needs shared libraries (DT_NEEDED): it is not static"
PY
}

for arch in amd64 arm64; do
  case "$arch" in
    amd64) triple=x86_64-unknown-linux-musl machine=X86-64 ;;
    arm64) triple=aarch64-unknown-linux-musl machine=AArch64 ;;
  esac
  built=$target_dir/$triple/$profile_dir/mquery
  check_static_elf "$built" "$machine"
  mkdir -p "dist/$arch"
  if ! cmp -s "$built" "dist/$arch/mquery"; then
    install -m 0755 "$built" "dist/$arch/mquery.tmp"
    mv -f "dist/$arch/mquery.tmp" "dist/$arch/mquery"
  fi
  echo "build-image: dist/$arch/mquery ($machine, static, $(stat -c %s "dist/$arch/mquery") bytes)"
done

# --- image -----------------------------------------------------------------------------------

image=localhost/mquery
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
stamp_file=$podman_dir/mquery-image.stamp
stamp=$(
  sha256sum Dockerfile .dockerignore dist/amd64/mquery dist/arm64/mquery
  echo "version=$version profile=$profile"
  echo "revision=$revision"
)

# Same binaries, Dockerfile and labels (the revision label too) as the last build.
image_is_current() {
  [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp" ] &&
    podman manifest exists "$image:latest" &&
    podman image exists "$image:linux-amd64" &&
    podman image exists "$image:linux-arm64"
}

build_list() {
  local started arch got mnt platforms
  started=$(date +%s)
  rm -f "$stamp_file"
  # Drop the old list before its images: podman 4.3 cannot list images while a manifest list
  # and an untagged image coexist (podman#19757), so nothing here is ever left untagged — the
  # per-platform images carry tags and --layers=false keeps intermediate images away.
  if podman manifest exists "$image:latest"; then podman manifest rm "$image:latest" >/dev/null; fi
  for arch in amd64 arm64; do
    if podman image exists "$image:linux-$arch"; then podman rmi -f "$image:linux-$arch" >/dev/null; fi
  done
  podman manifest create "$image:latest" >/dev/null
  for arch in amd64 arm64; do
    # podman sets TARGETARCH from --platform (checked below on the image's content)
    podman build --quiet --layers=false --platform "linux/$arch" \
      --build-arg "VERSION=$version" --build-arg "REVISION=$revision" \
      --tag "$image:linux-$arch" --manifest "$image:latest" --file Dockerfile . >/dev/null
    got=$(podman image inspect --format '{{.Os}}/{{.Architecture}} {{.Config.User}}' "$image:linux-$arch")
    if [ "$got" != "linux/$arch 65532:65532" ]; then
      echo "build-image: $image:linux-$arch is $got, expected linux/$arch 65532:65532" >&2
      exit 1
    fi
    # the binary inside is the one for this platform
    mnt=$(podman image mount "$image:linux-$arch")
    if ! cmp -s "$mnt/mquery" "dist/$arch/mquery"; then
      podman image unmount "$image:linux-$arch" >/dev/null
      echo "build-image: $image:linux-$arch does not hold dist/$arch/mquery" >&2
      exit 1
    fi
    podman image unmount "$image:linux-$arch" >/dev/null
  done
  platforms=$(podman manifest inspect "$image:latest" | python3 -c '
import json, sys
print(" ".join(sorted(m["platform"]["os"] + "/" + m["platform"]["architecture"] for m in json.load(sys.stdin)["manifests"])))')
  if [ "$platforms" != "linux/amd64 linux/arm64" ]; then
    echo "build-image: $image:latest lists $platforms, expected linux/amd64 linux/arm64" >&2
    exit 1
  fi
  echo "$stamp" >"$stamp_file"
  echo "build-image: built $image:latest (linux/amd64, linux/arm64) in $(($(date +%s) - started)) s"
}

if image_is_current; then
  echo "build-image: $image:latest is up to date"
else
  build_list
fi

# --- push ------------------------------------------------------------------------------------

if [ -n "$push" ]; then
  registry=${push%%/*}
  [ "$registry" != "$push" ] || { echo "build-image: --push wants REGISTRY/REPO:TAG, got $push" >&2; exit 2; }
  case "$registry" in
    127.0.0.1:* | localhost:* | 127.0.0.1 | localhost | "[::1]:"*) tls=false ;;
    *) tls=true ;;
  esac
  push_list() {
    podman manifest push --all --format oci --tls-verify="$tls" --quiet \
      "$image:latest" "docker://$push"
  }
  if ! push_list; then
    # A store where one of the list's images was pulled back from a registry (same image ID)
    # holds the registry's manifest for it, and podman 4.3 no longer finds the list's
    # instance: a fresh list pushes.
    echo "build-image: push failed; rebuilding $image:latest and pushing again" >&2
    build_list
    push_list
  fi
  echo "build-image: pushed $image:latest to $push (linux/amd64, linux/arm64)"
fi

# --- load into Docker ------------------------------------------------------------------------

if [ -n "$load" ]; then
  case "$(uname -m)" in
    x86_64 | amd64) arch=amd64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "build-image: no image for $(uname -m)" >&2; exit 1 ;;
  esac
  podman save --quiet --format docker-archive "$image:linux-$arch" | docker load --quiet >/dev/null
  docker tag "$image:linux-$arch" "$image:latest"
  docker rmi "$image:linux-$arch" >/dev/null # the tag only: the image stays as :latest
  echo "build-image: loaded $image:latest (linux/$arch) into docker"
fi
