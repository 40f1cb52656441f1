"""gunicorn for the web service. Every setting can be overridden by its environment variable below."""

import json
import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND") or "0.0.0.0:8000"
# Sync workers block on the database; a few threads each keep autosaves flowing while one waits.
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * multiprocessing.cpu_count() + 1)
threads = int(os.environ.get("GUNICORN_THREADS") or 4)
timeout = int(os.environ.get("GUNICORN_TIMEOUT") or 60)
# Longer than a client polling every 2 s (the CLI, the submission page) waits between requests, so an idle
# kept-alive connection is not closed just as the next request goes out; a proxy in front keeps less.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE") or 5)
graceful_timeout = 30
max_requests = 2000  # recycle a worker now and then: bounded memory over weeks of uptime
max_requests_jitter = 200
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS") or "127.0.0.1"

# The access log in the same shape as the application's JSON logs (config/logging.py): one object a line.
accesslog = "-"
errorlog = "-"
access_log_format = json.dumps({
    "time": "%(t)s", "level": "INFO", "logger": "gunicorn.access", "method": "%(m)s", "path": "%(U)s",
    "status": "%(s)s", "bytes": "%(B)s", "duration_us": "%(D)s", "remote": "%(h)s", "user_agent": "%(a)s",
})
