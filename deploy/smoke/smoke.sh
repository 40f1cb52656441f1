#!/usr/bin/env bash
# make deploy-smoke: the production stack of deploy/compose.yaml, built offline and driven from outside.
#
#   1. images   the sandbox image, its debootstrap base and its first stage (sandbox/images/build_cpu.sh), PostgreSQL and
#               Redis from Debian packages (deploy/smoke/Dockerfile.services, standing in for the official
#               images through POSTGRES_IMAGE and REDIS_IMAGE), the application image (deploy/build_image.sh)
#   2. up       compose up with a throwaway .env (its own project name, random secrets, a free port) and
#               wait until db, redis, web, worker and beat report healthy
#   3. learner  register over HTTP on gunicorn; an API token (manage.py api_token); submit the fp8-e4m3
#               lab with the `quantprep` CLI and wait for the verdict from the containerized worker
#   4. scale    a second worker container; stop the first; the next submission must be graded by the second
#   5. down     compose down -v; fail if any container, volume or network of the project is left
# The last line says what it saw. Needs: a Docker engine, docker compose (v2) or docker-compose (1.29),
# the repository's .venv (make setup). Environment: DEPLOY_SMOKE_KEEP=1 leaves the stack up to look at.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
SERVICES_IMAGE=quantprep-smoke-services:bookworm
BASE_IMAGE="${SANDBOX_BASE_IMAGE:-quantprep-sandbox-base:bookworm}"
PROJECT="quantprep-smoke-$$"
WORK="$(mktemp -d)"
ENV_FILE="$WORK/smoke.env"
LAB=fp8-e4m3
SOLUTION=fixtures/labs/fp8-e4m3/solutions/correct/bit_twiddling.py
T0=$EPOCHREALTIME
elapsed() { awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }'; }
say() { printf '[deploy-smoke %4ss] %s\n' "$(elapsed)" "$*"; }
FAILURE=""
fail() {
    FAILURE="$*"
    printf 'deploy-smoke: FAILED: %s\n' "$*" >&2
    exit 1
}

if docker compose version >/dev/null 2>&1; then
    compose_cmd=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
    compose_cmd=(docker-compose)
else
    fail "neither 'docker compose' nor 'docker-compose' is installed (Debian: apt-get install -y docker-compose)"
fi
compose() { "${compose_cmd[@]}" --project-name "$PROJECT" --env-file "$ENV_FILE" -f deploy/compose.yaml "$@"; }
# The containers of the project, or of one of its services, stopped ones too: what `compose ps -q [SERVICE]`
# lists, read from the labels compose sets. The waits below poll this every few seconds, and each
# docker-compose 1.29 call costs about 0.4 s of CPU (its Python starting), against 0.02 s for docker ps.
ids() { docker ps -aq --filter "label=com.docker.compose.project=$PROJECT" ${1:+--filter "label=com.docker.compose.service=$1"}; }
[[ -x .venv/bin/quantprep ]] || fail "no .venv/bin/quantprep: run make setup first"
docker info >/dev/null 2>&1 || fail "no Docker engine answers (start dockerd)"

WORKER_HOSTS=()  # the worker containers' host names: their sandbox containers carry "worker@<host>" as owner
sandboxes() { # the sandbox containers (warm or running a job) that this project's workers started
    local host
    for host in "${WORKER_HOSTS[@]}"; do docker ps -aq --filter "label=org.quantprep.sandbox.owner=worker@$host"; done
}
leftovers() { # what of the project is still there, as "N containers, N volumes, N networks"
    local label="label=com.docker.compose.project=$PROJECT"
    printf '%s containers, %s volumes, %s networks' "$(( $(docker ps -aq --filter "$label" | wc -l) + $(sandboxes | wc -l) ))" \
        "$(docker volume ls -q --filter "$label" | wc -l)" "$(docker network ls -q --filter "$label" | wc -l)"
}
left_detail() { # what is left, one container per line: name, status, the worker that started it
    local label="label=com.docker.compose.project=$PROJECT" id
    for id in $(docker ps -aq --filter "$label") $(sandboxes); do
        docker inspect -f '  {{ .Name }} {{ .State.Status }} owner={{ index .Config.Labels "org.quantprep.sandbox.owner" }}' "$id" || true
    done
}
remember_workers() {
    local id
    for id in $(ids worker); do WORKER_HOSTS+=("$(docker inspect -f '{{ .Config.Hostname }}' "$id")"); done
}
teardown() {
    local rc=$?
    trap - EXIT INT TERM
    if ((rc != 0)); then
        say "failed: the last log lines of each service"
        compose logs --no-color --tail 25 2>&1 | tail -n 150 >&2 || true
    fi
    if [[ "${DEPLOY_SMOKE_KEEP:-0}" == 1 ]]; then
        say "DEPLOY_SMOKE_KEEP=1: the stack stays up; remove it with:"
        echo "  ${compose_cmd[*]} --project-name $PROJECT --env-file $ENV_FILE -f deploy/compose.yaml down -v"
        exit "$rc"
    fi
    compose down -v --remove-orphans --timeout 20 >/dev/null 2>&1 || true
    left=$(leftovers)
    if [[ "$left" != "0 containers, 0 volumes, 0 networks" ]]; then
        printf 'deploy-smoke: FAILED: left behind: %s\n' "$left" >&2
        left_detail >&2
        grep -i -e sandbox -e warm "$WORK/workers.log" 2>/dev/null | tail -n 30 >&2 || true
        rc=1
    fi
    sandboxes | xargs -r docker rm -f >/dev/null 2>&1 || true  # whatever happened, the engine is left clean
    rm -rf "$WORK"
    [[ -z "$FAILURE" ]] || printf 'deploy-smoke: FAILED: %s (said again after the logs)\n' "$FAILURE" >&2
    exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT TERM

# --- 1. images ----------------------------------------------------------------------------------------
say "sandbox image and its debootstrap base"
bash sandbox/images/build_cpu.sh | sed 's/^/  /'
services_hash=$(cat deploy/smoke/Dockerfile.services deploy/smoke/entrypoint.sh | sha256sum | cut -c1-16)
if [[ "$(docker image inspect -f '{{ index .Config.Labels "org.quantprep.smoke.inputs" }}' "$SERVICES_IMAGE" 2>/dev/null)" == "$services_hash" ]]; then
    say "$SERVICES_IMAGE is up to date"
else
    say "building $SERVICES_IMAGE: PostgreSQL and Redis from Debian packages"
    DOCKER_BUILDKIT=0 docker build -q --build-arg "BASE_IMAGE=$BASE_IMAGE" --label "org.quantprep.smoke.inputs=$services_hash" \
        -f deploy/smoke/Dockerfile.services -t "$SERVICES_IMAGE" deploy/smoke 2>&1 | grep -v -e DEPRECATED -e buildx -e BuildKit -e '^ *$' || true
    docker image inspect "$SERVICES_IMAGE" >/dev/null 2>&1 || fail "could not build $SERVICES_IMAGE"
fi
say "application image"
bash deploy/build_image.sh | sed 's/^/  /'  # on the sandbox image's first stage, torch already in it

# --- 2. up ----------------------------------------------------------------------------------------------
# A free port below the kernel's ephemeral range: compose binds it a minute later, and a port bind(0) gave
# could be given meanwhile to another process (make test's own servers take theirs that way).
port=$(.venv/bin/python - <<'PY'
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for port in random.sample(range(10000, low), 200):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
    print(port)
    break
PY
)
[[ -n "$port" ]] || fail "no free port below the ephemeral range"
secret() { .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(48))'; }
cat >"$ENV_FILE" <<EOF
QUANTPREP_ENV_FILE=$ENV_FILE
POSTGRES_IMAGE=$SERVICES_IMAGE
REDIS_IMAGE=$SERVICES_IMAGE
POSTGRES_PASSWORD=$(secret)
SECRET_KEY=$(secret)
WEB_PUBLISH=127.0.0.1:$port
ALLOWED_HOSTS=127.0.0.1,localhost
SECURE_SSL_REDIRECT=false
WEB_CONCURRENCY=2
WORKER_CONCURRENCY=1
SANDBOX_WARM_LABS=$LAB
EOF
say "compose up (project $PROJECT, ${compose_cmd[*]}, web on 127.0.0.1:$port)"
compose up -d db redis migrate web worker beat 2>&1 | sed 's/^/  /'

health() { docker inspect -f '{{ if .State.Health }}{{ .State.Health.Status }}{{ else }}{{ .State.Status }}{{ end }}' "$1" 2>/dev/null; }
wait_healthy() { # wait_healthy SECONDS SERVICE...: every container of each service reports healthy
    local deadline=$((SECONDS + $1)) service id state pending
    shift
    while :; do
        pending=()
        for service in "$@"; do
            for id in $(ids "$service"); do
                state=$(health "$id")
                [[ "$state" == healthy ]] || pending+=("$service:$state")
            done
            [[ -n "$(ids "$service")" ]] || pending+=("$service:absent")
        done
        ((${#pending[@]} == 0)) && return 0
        ((SECONDS < deadline)) || fail "not healthy after $2 s: ${pending[*]}"
        sleep 3
    done
}
wait_healthy 300 db redis web worker beat
migrate_id=$(ids migrate)
[[ "$(docker inspect -f '{{ .State.ExitCode }}' "$migrate_id")" == 0 ]] || fail "the one-shot migrate did not exit 0"
say "healthy: db, redis, web (gunicorn), worker, beat; migrate exited 0"

# --- 3. a learner ----------------------------------------------------------------------------------------
url="http://127.0.0.1:$port"
learner="smoke-$RANDOM"
.venv/bin/python deploy/smoke/register.py "$url" "$learner" "$(secret)" | sed 's/^/  /'
token=$(compose exec -T web python manage.py api_token "$learner" --days 1 2>/dev/null | tail -n 1)
[[ -n "$token" ]] || fail "manage.py api_token printed no token"

submit() { # submit: the CLI submits the lab, waits, and prints the final submission as JSON
    QUANTPREP_URL="$url" QUANTPREP_TOKEN="$token" .venv/bin/quantprep submit "$LAB" "$SOLUTION" --json -q \
        --wait-timeout 300 >"$WORK/verdict.json" || fail "quantprep submit failed: $(cat "$WORK/verdict.json")"
    .venv/bin/python - "$WORK/verdict.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
if s.get("verdict") != "accepted":
    sys.exit(f"deploy-smoke: FAILED: submission {s.get('id')} verdict {s.get('verdict')!r}, not accepted: {s}")
print(s["id"])
PY
}
graded_by() { # graded_by SUBMISSION_ID: the worker containers whose log shows that submission graded
    for id in $(ids worker); do
        # grep reads to the end (no -q): with pipefail, a grep that quits early fails docker logs with SIGPIPE
        if docker logs "$id" 2>&1 | grep -F "submission $1 graded:" >/dev/null; then
            docker inspect -f '{{ .Name }}' "$id" | tr -d /
        fi
    done
}
started=$EPOCHREALTIME
first=$(submit) || exit 1
first_s=$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
first_by=$(graded_by "$first")
[[ -n "$first_by" ]] || fail "no worker log says submission $first was graded"
say "submission $first ($LAB) accepted in ${first_s} s, graded by $first_by"

# --- 4. a second worker ------------------------------------------------------------------------------------
say "scaling to two workers, then stopping the first"
compose up -d --no-recreate --scale worker=2 worker 2>&1 | sed 's/^/  /'
wait_healthy 180 worker
[[ "$(ids worker | wc -l)" == 2 ]] || fail "expected two worker containers"
remember_workers
docker stop -t 30 "$first_by" >/dev/null
started=$EPOCHREALTIME
second=$(submit) || exit 1
second_s=$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
second_by=$(graded_by "$second")
[[ -n "$second_by" && "$second_by" != "$first_by" ]] ||
    fail "submission $second was graded by '${second_by}', not by the second worker"
say "submission $second accepted in ${second_s} s, graded by $second_by (the second worker; $first_by stopped)"

# --- 5. down ------------------------------------------------------------------------------------------------
# A graceful stop, as production gives one (stop_grace_period): a worker killed at the end of it could not
# remove its warm sandboxes, so one that had to be killed fails the smoke, saying so.
started=$EPOCHREALTIME
compose stop --timeout 60 >/dev/null 2>&1
stopped=$(for id in $(ids); do docker inspect -f '{{ .Name }}={{ .State.ExitCode }}' "$id" | tr -d /; done | sort | tr '\n' ' ')
say "stopped in $(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s; exit codes: $stopped"
compose logs --no-color worker >"$WORK/workers.log" 2>&1 || true  # kept to say why, should anything be left
for id in $(ids worker); do
    [[ "$(docker inspect -f '{{ .State.ExitCode }}' "$id")" != 137 ]] ||
        fail "$(docker inspect -f '{{ .Name }}' "$id" | tr -d /) did not stop within 60 s and was killed"
done
compose down -v --remove-orphans --timeout 20 >/dev/null 2>&1
left=$(leftovers)  # the workers' warm sandbox containers included: a worker that stops removes its own
[[ "$left" == "0 containers, 0 volumes, 0 networks" ]] || fail "left behind after compose down -v: $left"
trap - EXIT
rm -rf "$WORK"
echo "deploy-smoke: OK in $(elapsed) s: db, redis, web, worker and beat healthy; $learner registered over HTTP on" \
    "gunicorn; $LAB #$first accepted by $first_by in ${first_s} s and #$second by $second_by in ${second_s} s" \
    "with the first worker stopped; torn down, $left left"
