#!/usr/bin/env bash
# `make test`: the whole suite on SQLite, and the database tests again on PostgreSQL when one is available
# (TEST_POSTGRES_URL, or a local server that answers for the quantprep role).
set -euo pipefail
cd "$(dirname "$0")/.."
# Python writes its compiled modules (and pytest its rewritten test modules) into __pycache__ (ignored by
# git): where PYTHONDONTWRITEBYTECODE is set, as on this machine, each of the suite's pytest processes
# compiled the project and rewrote every test module again (5 s of CPU each), and each server and worker
# it starts compiled the project.
unset PYTHONDONTWRITEBYTECODE

# The sandbox image (idempotent: a no-op when it is up to date) builds in the background from the start:
# its debootstrap, which needs no Python, beside make setup (whose pip keeps one core of two busy); the rest
# (its pip reads the venv's) once the venv is installed, while the first tests run. The sandbox tests, the
# deploy smoke and the PostgreSQL pass wait for it: their own calls of build_cpu.sh wait for this one (it
# holds a lock), then find the image up to date.
image_pid=""
if docker info >/dev/null 2>&1; then
  image_log="$(mktemp)"
  (
    bash sandbox/images/build_cpu.sh --base-only || exit
    until make -q .venv/.installed 2>/dev/null; do
      kill -0 $$ 2>/dev/null || exit 1  # make setup failed, and this script with it
      sleep 1
    done
    bash sandbox/images/build_cpu.sh
  ) >"$image_log" 2>&1 &
  image_pid=$!
else
  echo "WARNING: no Docker engine answers: the docker sandbox tests will fail (start dockerd, or see .ci/run)." >&2
fi
make --no-print-directory -j2 setup frontend  # the venv and the front end are independent
image_built() {
  [ -n "$image_pid" ] || return 0
  local rc=0
  wait "$image_pid" || rc=$?
  image_pid=""
  cat "$image_log"
  rm -f "$image_log"
  return "$rc"
}

PG_URL="${TEST_POSTGRES_URL:-}"
if [ -z "$PG_URL" ] && command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 2>/dev/null; then
  PG_URL="postgres://quantprep:quantprep@127.0.0.1:5432/quantprep"
fi

# Three runs. On SQLite, every test that can share the machine, on one pytest worker per core and one
# more (the deploy smoke, which goes first, keeps one waiting on Docker for minutes): the sandbox ones wait
# for the image (tests/conftest.py), which is built by then, and the longest go first. Beside it, on one
# more worker, the database tests on PostgreSQL (all but the browser tests, the slow fault runs, the sandbox ones
# and the quiet ones) once the image is built. Then the `quiet` tests on SQLite (the runs that assert a
# timing, and the sweeps of every worker's containers), one pytest worker per core, each pinned to its
# core with all it starts, its sandbox containers too: a timed run never shares its core. Arguments go to
# every run.
WORKERS="${TEST_WORKERS:-$(( $(nproc) + 1 ))}"
run_pytest() { .venv/bin/pytest "$@" || [ $? -eq 5 ]; }  # 5: the arguments selected none of that run's tests
pg_pid=""
if [ -n "$PG_URL" ]; then
  pg_log="$(mktemp)"
  (
    bash sandbox/images/build_cpu.sh >/dev/null 2>&1 || true  # waits for the background build; its log is below
    TEST_DATABASE_URL="$PG_URL" run_pytest -n 1 -p no:cacheprovider -m "django_db and not slow and not browser and not quiet and not sandbox" "$@"
  ) >"$pg_log" 2>&1 &
  pg_pid=$!
else
  echo "WARNING: no PostgreSQL (set TEST_POSTGRES_URL): the database tests run on SQLite only." >&2
fi
shared_rc=0
run_pytest -n "$WORKERS" --dist worksteal -m "not quiet" "$@" || shared_rc=$?
pg_rc=0
if [ -n "$pg_pid" ]; then
  wait "$pg_pid" || pg_rc=$?
  echo "== the database tests again, on PostgreSQL (run beside the one above) =="
  cat "$pg_log"
  rm -f "$pg_log"
fi
image_built || { echo "ERROR: the sandbox image did not build (its log is above)." >&2; exit 1; }
[ "$shared_rc" -eq 0 ] || exit "$shared_rc"
[ "$pg_rc" -eq 0 ] || exit "$pg_rc"
# With no arguments, the quiet run collects only the files that mark a test quiet (always in the test's own
# file; tests/conftest.py adds no such marker): collecting the whole suite cost each of its workers 4 s more.
quiet_files=()
[ $# -gt 0 ] || mapfile -t quiet_files < <(grep -rlE --include='test_*.py' 'mark\.quiet' tests | sort)
run_pytest -n "$(nproc)" --dist worksteal --core-per-worker -m quiet "${quiet_files[@]}" "$@"
