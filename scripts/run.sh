#!/usr/bin/env bash
# `make run`: the embedded defaults (SQLite, filesystem broker, docker sandbox if an engine answers,
# else the local one, loudly). One web server and one Celery worker (with beat); Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
# Compiled modules are written (into __pycache__, ignored by git), once: where PYTHONDONTWRITEBYTECODE is
# set, every start would compile in memory what make setup's precompile did not cover.
unset PYTHONDONTWRITEBYTECODE
PORT="${PORT:-8000}"
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-config.settings.dev}"

$PY manage.py migrate --no-input
$PY manage.py load_content
demo=$($PY manage.py demo_setup)
echo "$demo"
$PY manage.py sandbox_status

# The web server and the worker run with DEBUG off, so learners see the site's own error pages (404, 403,
# 500), never Django's debug page with its settings and URL patterns; `DEBUG=1 make run` shows those again
# (config/settings/dev.py). The periodic sweeps log at DEBUG (config/logging.py), so the lines below stay
# on screen; LOG_LEVEL=DEBUG shows them.
export DEBUG="${DEBUG:-false}"
trap 'trap - INT TERM EXIT; kill 0 2>/dev/null; wait' INT TERM EXIT
since=$(date +%s)
.venv/bin/celery -A config worker --beat --concurrency 1 --loglevel INFO -Q grading,gpu &
$PY manage.py runserver --noreload "127.0.0.1:${PORT}" &
# Say where it is only once both answer: last, after their start-up lines.
$PY scripts/wait_ready.py --url "http://127.0.0.1:${PORT}/" --since "$since"
echo
echo "  QuantPrep is running at http://127.0.0.1:${PORT}/"
echo "  $demo"
echo "  API tokens for the quantprep CLI: your account page (click your user name). Ctrl-C stops it."
echo
wait -n
