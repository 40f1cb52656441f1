#!/usr/bin/env bash
# `make run`: the embedded defaults (SQLite, filesystem broker, docker sandbox if an engine answers,
# else the local one, loudly). One web server and one Celery worker (with beat); Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PORT="${PORT:-8000}"
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-config.settings.dev}"

$PY manage.py migrate --no-input
$PY manage.py load_content
$PY manage.py demo_setup
$PY manage.py sandbox_status

# The web server and the worker run with DEBUG off, so learners see the site's own error pages (404, 403,
# 500), never Django's debug page with its settings and URL patterns; `DEBUG=1 make run` shows those again
# (config/settings/dev.py).
export DEBUG="${DEBUG:-false}"
trap 'trap - INT TERM EXIT; kill 0 2>/dev/null; wait' INT TERM EXIT
.venv/bin/celery -A config worker --beat --concurrency 1 --loglevel INFO -Q grading,gpu &
$PY manage.py runserver --noreload "127.0.0.1:${PORT}" &
# Say where it is only once it answers.
$PY -c "import sys, time, urllib.request
for _ in range(120):
    try:
        urllib.request.urlopen('http://127.0.0.1:${PORT}/login/', timeout=1); sys.exit(0)
    except OSError:
        time.sleep(0.5)
sys.exit('the web server did not start')"
echo
echo "QuantPrep is running at http://127.0.0.1:${PORT}/  (log in as student or instructor; Ctrl-C stops it)"
wait -n
