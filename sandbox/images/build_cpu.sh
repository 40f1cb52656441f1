#!/usr/bin/env bash
# make sandbox-image: builds the CPU sandbox image (${SANDBOX_IMAGE:-quantprep-sandbox:cpu}) fully offline,
# with no image registry: only the Debian mirror apt uses and the pip configuration of this machine.
#
#   1. rootfs  debootstrap --variant=minbase --include=python3,python3-venv,tini bookworm -> sandbox/images/rootfs/
#   2. base    tar | docker import               -> ${SANDBOX_BASE_IMAGE:-quantprep-sandbox-base:bookworm}
#   3. wheels  pip download -r requirements.txt  -> sandbox/images/wheels/ (the build context)
#   4. image   docker build --network host -f Dockerfile.cpu sandbox/images/wheels, pip reading the wheels
#              from scripts/serve_wheels.py on 127.0.0.1 (the context is requirements.txt alone); its first
#              stage is also tagged ${TORCH_IMAGE:-quantprep-python-torch:cpu}, the offline app image's base
#
# Every step is skipped when its output is already there for the same inputs; when the image carries the
# hash of all inputs (label org.quantprep.sandbox.inputs) the script says so and exits at once.
# Usage: build_cpu.sh [--force | --base-only | --print-hash]
#   --force       rebuild the image even if it is up to date (the rootfs, base and wheels are still reused)
#   --base-only   steps 1 and 2 only, which need no Python (make test runs them beside make setup)
#   --print-hash  print the input hash the image should carry and exit (needs no Docker)
# Environment: SANDBOX_IMAGE, SANDBOX_BASE_IMAGE, DEBIAN_MIRROR (default: the one apt uses here),
#   PYTHON (the interpreter whose pip downloads the wheels; default: the repo's .venv, else python3),
#   DOCKER_BUILDKIT (default 0: the classic builder needs nothing from any registry).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
IMAGE="${SANDBOX_IMAGE:-quantprep-sandbox:cpu}"
TORCH_IMAGE="${TORCH_IMAGE:-quantprep-python-torch:cpu}"
BASE_IMAGE="${SANDBOX_BASE_IMAGE:-quantprep-sandbox-base:bookworm}"
SUITE=bookworm
BASE_PACKAGES=python3,python3-venv,tini
PY_TAG=311 # bookworm's python3 is 3.11: the wheels are downloaded for cp311
DOCKERFILE="$HERE/Dockerfile.cpu"
REQUIREMENTS="$HERE/requirements.txt"
ROOTFS="$HERE/rootfs/$SUITE"
ROOTFS_OK="$HERE/rootfs/$SUITE.ok" # holds the base hash once debootstrap and the clean-up finished
WHEELS="$HERE/wheels"
WHEELS_OK="$WHEELS/.complete"      # holds the hash of requirements.txt once every wheel is there
LABEL_INPUTS=org.quantprep.sandbox.inputs
LABEL_BASE=org.quantprep.sandbox.base-inputs
export DOCKER_BUILDKIT="${DOCKER_BUILDKIT:-0}"

T0=$EPOCHREALTIME
elapsed() { awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
say() { printf '[sandbox-image %6ss] %s\n' "$(elapsed)" "$*"; }
die() {
    printf 'sandbox-image: ERROR: %s\n' "$*" >&2
    exit 1
}
on_exit() {
    local rc=$?
    if ((rc != 0)); then printf 'sandbox-image: FAILED (exit %d) after %ss\n' "$rc" "$(elapsed)" >&2; fi
}
trap on_exit EXIT

# --- what the outputs depend on ----------------------------------------------------------------------
# Trims the rootfs before it becomes the base image. Its body is part of the base hash (declare -f).
clean_rootfs() {
    local root=$1
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
        "$root"/var/log/* "$root"/tmp/* "$root"/root/.cache \
        "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/lintian "$root"/usr/share/linda
    # Docs go, the copyright files stay (licences).
    if [[ -d "$root"/usr/share/doc ]]; then
        find "$root"/usr/share/doc -mindepth 1 -not -type d -not -name copyright -delete
        find "$root"/usr/share/doc -mindepth 1 -type d -empty -delete
    fi
    if [[ -d "$root"/usr/share/locale ]]; then
        find "$root"/usr/share/locale -mindepth 1 -maxdepth 1 -type d -not -name 'C.*' -exec rm -rf {} +
    fi
    chmod 1777 "$root"/tmp
}

sha() { sha256sum | cut -d' ' -f1; }
base_hash() { { echo "suite=$SUITE packages=$BASE_PACKAGES"; declare -f clean_rootfs; } | sha; }
wheels_hash() { { echo "cp$PY_TAG"; cat "$REQUIREMENTS"; } | sha; }
inputs_hash() { { base_hash; wheels_hash; cat "$DOCKERFILE"; } | sha; }

BASE_ONLY=0
case "${1:-}" in
    --print-hash) inputs_hash; exit 0 ;;
    --force) FORCE=1 ;;
    --base-only) FORCE=0 BASE_ONLY=1 ;;
    "") FORCE=0 ;;
    *) die "unknown argument ${1} (usage: build_cpu.sh [--force | --base-only | --print-hash])" ;;
esac

# One build at a time: make test builds in the background while the deploy smoke may start this too; the
# second waits here, then finds the image up to date.
exec 9>"$HERE/.build.lock"
if ! flock -n 9; then
    say "another build of the sandbox image is running; waiting for it"
    flock -w 1800 9 || die "waited 30 minutes for another build of the sandbox image to end"
fi

HASH=$(inputs_hash)
BASE_HASH=$(base_hash)

# --- a Docker engine must answer; this script starts none ----------------------------------------------
command -v docker >/dev/null 2>&1 ||
    die "the docker CLI is not installed. Install Docker (as root on Debian: apt-get install -y docker.io), start its engine (dockerd), and run this again."
if ! docker_err=$(timeout 30 docker info 2>&1 >/dev/null); then
    die "no Docker engine answers (docker info: $(printf '%s' "$docker_err" | grep -v '^$' | tail -n 1)).
Start one, e.g. as root: nohup dockerd >/var/log/dockerd.log 2>&1 &   (then wait until 'docker info' works),
or point DOCKER_HOST at a running engine."
fi

label_of() { # image label -> value, empty if the image or the label is missing
    docker image inspect -f "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null | sed 's/^<no value>$//' || true
}

if ((FORCE == 0)) && [[ "$(label_of "$IMAGE" "$LABEL_INPUTS")" == "$HASH" && "$(label_of "$TORCH_IMAGE" "$LABEL_INPUTS")" == "$HASH" ]]; then
    say "$IMAGE is up to date (inputs ${HASH:0:12}); nothing to do. Total: $(elapsed)s"
    exit 0
fi
if ((BASE_ONLY)); then say "building the base of $IMAGE"; else say "building $IMAGE (inputs ${HASH:0:12})"; fi

# --- tools ----------------------------------------------------------------------------------------------
apt_install() { # apt_install PKG...: only as root; apt-get update only if the plain install fails
    ((EUID == 0)) || die "missing $*; run this as root or install them: apt-get install -y $*"
    say "installing $* (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y --no-install-recommends "$@"; then
        say "apt-get install failed; running apt-get update and retrying"
        apt-get update
        apt-get install -y --no-install-recommends "$@"
    fi
}

debian_mirror() {
    if [[ -n "${DEBIAN_MIRROR:-}" ]]; then echo "$DEBIAN_MIRROR"; return; fi
    local m=""
    if compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null; then
        m=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' \
            /etc/apt/sources.list.d/*.sources)
    fi
    if [[ -z "$m" && -f /etc/apt/sources.list ]]; then
        m=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):/) { if ($i !~ /security/) { print $i; exit } break } }' \
            /etc/apt/sources.list)
    fi
    echo "${m:-http://deb.debian.org/debian}"
}

# --- 1+2. base image -------------------------------------------------------------------------------------
if [[ "$(label_of "$BASE_IMAGE" "$LABEL_BASE")" == "$BASE_HASH" ]]; then
    say "base image $BASE_IMAGE present, reused"
else
    if [[ -f "$ROOTFS_OK" && "$(cat "$ROOTFS_OK")" == "$BASE_HASH" ]]; then
        say "rootfs $ROOTFS present, reused"
    else
        ((EUID == 0)) || die "debootstrap needs root (it creates device nodes and chroots); run this as root"
        need=()
        command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
        [[ -f /usr/share/keyrings/debian-archive-keyring.gpg ]] || need+=(debian-archive-keyring)
        ((${#need[@]} == 0)) || apt_install "${need[@]}"
        mirror=$(debian_mirror)
        say "debootstrap $SUITE ($BASE_PACKAGES) from $mirror into $ROOTFS"
        rm -rf "$ROOTFS" "$ROOTFS_OK"
        mkdir -p "$ROOTFS"
        if ! debootstrap --variant=minbase --include="$BASE_PACKAGES" "$SUITE" "$ROOTFS" "$mirror" \
            >"$HERE/rootfs/debootstrap.log" 2>&1; then
            tail -n 20 "$HERE/rootfs/debootstrap.log" >&2
            die "debootstrap failed (full log: $HERE/rootfs/debootstrap.log)"
        fi
        clean_rootfs "$ROOTFS"
        echo "$BASE_HASH" >"$ROOTFS_OK"
        say "rootfs ready ($(du -sh "$ROOTFS" | cut -f1))"
    fi
    say "docker import -> $BASE_IMAGE"
    tar -C "$ROOTFS" --numeric-owner -c . |
        docker import --change "LABEL $LABEL_BASE=$BASE_HASH" --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" >/dev/null
fi

if ((BASE_ONLY)); then
    say "base image $BASE_IMAGE ready (--base-only: the wheels and the image are left for the next run). Total: $(elapsed)s"
    exit 0
fi

# --- 3. wheels (the build context) -------------------------------------------------------------------------
WHEELS_HASH=$(wheels_hash)
if [[ -f "$WHEELS_OK" && "$(cat "$WHEELS_OK")" == "$WHEELS_HASH" ]]; then
    say "wheels in $WHEELS present, reused"
else
    if [[ -n "${PYTHON:-}" ]]; then
        py=$PYTHON
    elif [[ -x "$REPO/.venv/bin/python" ]]; then
        py="$REPO/.venv/bin/python"
    else
        py=python3
    fi
    "$py" -m pip --version >/dev/null 2>&1 || die "$py has no pip; set PYTHON to an interpreter with pip"
    say "pip download -r requirements.txt for cp$PY_TAG (with $py)"
    rm -rf "$WHEELS"
    mkdir -p "$WHEELS"
    # --no-deps: the lock lists every package; pip install in the image resolves again and fails loudly
    # should one be missing. The platform flags make the download independent of the host's python.
    "$py" -m pip download --quiet --no-deps --only-binary=:all: --disable-pip-version-check \
        --implementation cp --python-version "3.${PY_TAG#3}" --abi "cp$PY_TAG" \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform linux_x86_64 \
        -r "$REQUIREMENTS" -d "$WHEELS" 2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2) ||
        die "pip download failed (the wheels for cp$PY_TAG of everything in $REQUIREMENTS must be reachable)"
    # (the warning filtered out is pip noting that a configured extra index has no page for a package)
    cp "$REQUIREMENTS" "$WHEELS/requirements.txt"
    compgen -G "$WHEELS/torch-*+cpu-*.whl" >/dev/null ||
        die "pip did not fetch a CPU build of torch (torch-*+cpu-*.whl); got: $(cd "$WHEELS" && ls torch-* 2>&1)"
    echo "$WHEELS_HASH" >"$WHEELS_OK"
    say "wheels ready ($(du -sh "$WHEELS" | cut -f1))"
fi

# --- 4. the image -------------------------------------------------------------------------------------------
# The wheels go to pip over the host's loopback, not through the context: they reach no layer (see the
# Dockerfile). pip in the build reads only that address (--no-index).
printf '*.whl\n.complete\n' >"$WHEELS/.dockerignore"
say "docker build -f Dockerfile.cpu (context: $WHEELS minus the wheels; pip reads them from 127.0.0.1)"
# Two builds while the same address serves the wheels: the first stage alone, tagged $TORCH_IMAGE and
# labelled with the inputs as the sandbox image's last stage labels itself, then the sandbox image, whose
# first stage comes from the build cache (the same WHEELS_URL, so the same cache key).
build() { # build TAG [docker build option...]
    local tag=$1
    shift
    docker build --force-rm --network host -f "$DOCKERFILE" --build-arg WHEELS_URL --build-arg "BASE_IMAGE=$BASE_IMAGE" \
        --build-arg "INPUTS_HASH=$HASH" "$@" -t "$tag" "$WHEELS"
}
export -f build
export DOCKERFILE BASE_IMAGE HASH WHEELS
python3 "$REPO/scripts/serve_wheels.py" "$WHEELS" bash -c 'build "$1" --target python-torch --label "$2" && build "$3"' _ \
    "$TORCH_IMAGE" "$LABEL_INPUTS=$HASH" "$IMAGE" \
    2>&1 | grep -v -e '^DEPRECATED: The legacy builder' -e 'BuildKit is currently disabled' \
    -e 'Install the buildx component' -e 'https://docs.docker.com/go/buildx/' -e '^ *environment-variable\.$' \
    -e '^ *$' || true
[[ "$(label_of "$IMAGE" "$LABEL_INPUTS")" == "$HASH" ]] || die "docker build failed (see above)"
[[ "$(label_of "$TORCH_IMAGE" "$LABEL_INPUTS")" == "$HASH" ]] || die "docker build of $TORCH_IMAGE failed (see above)"

# The images this build replaced are left dangling: drop ours (only dangling ones).
docker image prune -f --filter "label=org.quantprep.sandbox=cpu" >/dev/null || true
docker image prune -f --filter "label=org.quantprep.image=python-torch" >/dev/null || true

say "smoke test: import torch, numpy as 65534 with no network"
docker run --rm --network none --read-only --user 65534:65534 "$IMAGE" /usr/bin/tini -- /opt/venv/bin/python -c \
    "import torch, numpy; print('  torch', torch.__version__, 'numpy', numpy.__version__, 'matmul', (torch.ones(2, 3) @ torch.ones(3, 2)).sum().item())"
size=$(docker image inspect -f '{{ .Size }}' "$IMAGE" | awk '{ printf "%.0f MB", $1 / 1e6 }')
say "built $IMAGE ($size). Total: $(elapsed)s"
