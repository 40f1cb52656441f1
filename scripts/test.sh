#!/usr/bin/env bash
# `make test`: the whole suite on SQLite, then the database tests again on PostgreSQL when one is
# available (TEST_POSTGRES_URL, or a local server that answers for the quantprep role).
set -euo pipefail
cd "$(dirname "$0")/.."

# The sandbox image (idempotent: a no-op when it is up to date) builds in the background while the tests
# that share the machine run: none of them needs it but the deploy smoke, whose own call of build_cpu.sh
# waits for this one. The quiet tests run in it, after.
image_pid=""
if docker info >/dev/null 2>&1; then
  image_log="$(mktemp)"
  bash sandbox/images/build_cpu.sh >"$image_log" 2>&1 &
  image_pid=$!
else
  echo "WARNING: no Docker engine answers: the docker sandbox tests will fail (start dockerd, or see .ci/run)." >&2
fi
image_built() {
  [ -n "$image_pid" ] || return 0
  local rc=0
  wait "$image_pid" || rc=$?
  image_pid=""
  cat "$image_log"
  rm -f "$image_log"
  return "$rc"
}

# Two runs: every test that can share the machine on one pytest worker per core, then the `quiet` ones
# (timings, the shared Docker engine's containers) alone. Arguments go to both.
WORKERS="${TEST_WORKERS:-auto}"
run_pytest() { .venv/bin/pytest "$@" || [ $? -eq 5 ]; }  # 5: the arguments selected none of that run's tests
shared_rc=0
run_pytest -n "$WORKERS" -m "not quiet" "$@" || shared_rc=$?
image_built || { echo "ERROR: the sandbox image did not build (its log is above)." >&2; exit 1; }
[ "$shared_rc" -eq 0 ] || exit "$shared_rc"
run_pytest -m quiet "$@"

PG_URL="${TEST_POSTGRES_URL:-}"
if [ -z "$PG_URL" ] && command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 2>/dev/null; then
  PG_URL="postgres://quantprep:quantprep@127.0.0.1:5432/quantprep"
fi
if [ -n "$PG_URL" ]; then
  echo "== the database tests again, on PostgreSQL (the slow browser and fault runs only on SQLite) =="
  # One run: its two quiet tests (a worker grading through Redis; one in Docker that counts the engine's
  # sandbox containers) time nothing, and no other test of this selection starts a container.
  export TEST_DATABASE_URL="$PG_URL"
  run_pytest -n "$WORKERS" -m "django_db and not slow" "$@"
else
  echo "WARNING: no PostgreSQL (set TEST_POSTGRES_URL): the database tests ran on SQLite only." >&2
fi
