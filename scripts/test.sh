#!/usr/bin/env bash
# `make test`: the whole suite on SQLite, then the database tests again on PostgreSQL when one is
# available (TEST_POSTGRES_URL, or a local server that answers for the quantprep role).
set -euo pipefail
cd "$(dirname "$0")/.."

if docker info >/dev/null 2>&1; then
  bash sandbox/images/build_cpu.sh  # idempotent: a no-op when the image is up to date
else
  echo "WARNING: no Docker engine answers: the docker sandbox tests will fail (start dockerd, or see .ci/run)." >&2
fi

# Two runs: every test that can share the machine on one pytest worker per core, then the `quiet` ones
# (timings, the shared Docker engine's containers) alone. Arguments go to both.
WORKERS="${TEST_WORKERS:-auto}"
run_pytest() { .venv/bin/pytest "$@" || [ $? -eq 5 ]; }  # 5: the arguments selected none of that run's tests
run_pytest -n "$WORKERS" -m "not quiet" "$@"
run_pytest -m quiet "$@"

PG_URL="${TEST_POSTGRES_URL:-}"
if [ -z "$PG_URL" ] && command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 2>/dev/null; then
  PG_URL="postgres://quantprep:quantprep@127.0.0.1:5432/quantprep"
fi
if [ -n "$PG_URL" ]; then
  echo "== the database tests again, on PostgreSQL (the slow browser and fault runs only on SQLite) =="
  export TEST_DATABASE_URL="$PG_URL"
  run_pytest -n "$WORKERS" -m "django_db and not slow and not quiet" "$@"
  run_pytest -m "django_db and not slow and quiet" "$@"
else
  echo "WARNING: no PostgreSQL (set TEST_POSTGRES_URL): the database tests ran on SQLite only." >&2
fi
