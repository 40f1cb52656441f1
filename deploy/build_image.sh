#!/usr/bin/env bash
# Builds the application image (${APP_IMAGE:-quantprep-app:latest}) from deploy/Dockerfile with no registry
# and no index in the build: the wheels of pyproject.toml's dependencies are downloaded on this host
# (its pip configuration) into deploy/wheels/, the base image is ${APP_BASE_IMAGE:-quantprep-python-torch:cpu}
# (the sandbox image's first stage, which `make sandbox-image` tags: a debootstrap bookworm with torch and numpy
# installed and byte-compiled in /opt/venv, so they are not installed again), and `docker build --network host` installs from the
# wheels, which scripts/serve_wheels.py serves on 127.0.0.1 (WHEELS_URL; PIP_NO_INDEX=1: pip reads nothing else).
# Where a registry is reachable, `docker compose -f deploy/compose.yaml build` is the ordinary way.
# Usage: deploy/build_image.sh   (from anywhere; needs a Docker engine, the base image and static/vendor)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
IMAGE="${APP_IMAGE:-quantprep-app:latest}"
BASE_IMAGE="${APP_BASE_IMAGE:-quantprep-python-torch:cpu}"
WHEELS=deploy/wheels
export DOCKER_BUILDKIT="${DOCKER_BUILDKIT:-0}" # the classic builder needs nothing from any registry
T0=$EPOCHREALTIME
say() { printf '[app-image %6ss] %s\n' "$(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')" "$*"; }
die() { printf 'app-image: ERROR: %s\n' "$*" >&2; exit 1; }

docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 ||
    die "no base image $BASE_IMAGE: build it with make sandbox-image (or set APP_BASE_IMAGE)"
[[ -f static/vendor/.qp-build.json ]] || { say "static/vendor missing: node frontend/build.mjs"; node frontend/build.mjs; }

if [[ -x .venv/bin/python ]]; then py=.venv/bin/python; else py=python3; fi
requirements=$("$py" -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))')
stamp="$WHEELS/.complete"
want=$(printf '%s\n' "$requirements" | sha256sum | cut -d' ' -f1)
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    say "wheels in $WHEELS present, reused"
else
    say "pip download: pyproject.toml's dependencies for cp311 into $WHEELS"
    find "$WHEELS" -name '*.whl' -delete
    # With dependencies (the image resolves them again, offline, from this folder only). pip download
    # evaluates markers with the host's full Python version, so redis' async-timeout (needed below 3.11.3,
    # and bookworm's python3 is 3.11.2) is named explicitly.
    "$py" -m pip download --quiet --only-binary=:all: --disable-pip-version-check \
        --implementation cp --python-version 3.11 --abi cp311 \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform linux_x86_64 --platform any \
        -d "$WHEELS" -r <(printf '%s\nasync-timeout>=4.0.3\n' "$requirements") 2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2) ||
        die "pip download failed (every dependency's cp311 wheel must be reachable)"
    compgen -G "$WHEELS/torch-*+cpu-*.whl" >/dev/null ||
        die "pip did not fetch a CPU build of torch (torch-*+cpu-*.whl); configure pip's index (see deploy/README.md)"
    echo "$want" >"$stamp"
    say "wheels ready ($(du -sh "$WHEELS" | cut -f1))"
fi

say "docker build -f deploy/Dockerfile (base $BASE_IMAGE, the wheels from 127.0.0.1) -> $IMAGE"
python3 scripts/serve_wheels.py "$WHEELS" docker build --network host -f deploy/Dockerfile \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg PIP_NO_INDEX=1 --build-arg WHEELS_URL \
    -t "$IMAGE" . 2>&1 | grep -v -e '^DEPRECATED: The legacy builder' -e 'BuildKit is currently disabled' \
    -e 'Install the buildx component' -e 'https://docs.docker.com/go/buildx/' -e '^ *environment-variable\.$' \
    -e '^ *$' -e '^Step [0-9]' -e '^ ---> ' -e '^Removing intermediate' -e '^Looking in links: http://127.0.0.1' -e '^Collecting ' -e '^  Downloading http://127.0.0.1:' || true
docker image inspect "$IMAGE" >/dev/null 2>&1 || die "docker build failed (see above)"
# The images this build replaced are left dangling: drop ours (only dangling ones).
docker image prune -f --filter "label=org.quantprep.image=app" >/dev/null || true
say "built $IMAGE ($(docker image inspect -f '{{ .Size }}' "$IMAGE" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
