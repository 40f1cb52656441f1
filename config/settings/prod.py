"""Production: secrets from the environment, HTTPS only, learner code only in Docker. ``manage.py check
--deploy`` passes clean."""

import logging

from django.core.exceptions import ImproperlyConfigured

from config.env import env, env_bool

from .base import *  # noqa: F403

# Learner code never runs outside Docker by accident: docker unless said otherwise, and the local
# backend (no isolation) or auto (which falls back to it) only with an explicit opt-in.
SANDBOX_BACKEND = env("SANDBOX_BACKEND", "docker")
SANDBOX_ALLOW_LOCAL = SANDBOX_ALLOW_UNSAFE  # noqa: F405
if SANDBOX_BACKEND != "docker" and not SANDBOX_ALLOW_UNSAFE:  # noqa: F405
    raise ImproperlyConfigured(
        f"SANDBOX_BACKEND={SANDBOX_BACKEND} runs learner code without isolation (local) or may fall back to it "
        "(auto); production needs docker. Set SANDBOX_ALLOW_UNSAFE=1 to run it anyway.")

DEBUG = False
PUBLIC_KEYS = ("django-insecure", "dev-only-key", "test-only-key")  # the keys in this repository's settings
if (len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 20  # noqa: F405
        or any(marker in SECRET_KEY for marker in PUBLIC_KEYS)):  # noqa: F405
    raise ImproperlyConfigured("Production needs SECRET_KEY: at least 50 random characters (at least 20 different "
                               "ones), not a key from this repository; e.g. python -c 'import secrets; "
                               "print(secrets.token_urlsafe(50))'.")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True

# Logs: one JSON object per line (config/logging.py) unless LOG_FORMAT=plain; the Celery worker and beat
# log through the same configuration (config/celery.py).
LOG_FORMAT = env("LOG_FORMAT", "json")
if LOG_FORMAT not in LOGGING["formatters"]:  # noqa: F405
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}")
LOGGING["handlers"]["console"]["formatter"] = LOG_FORMAT  # noqa: F405
logging.captureWarnings(True)  # Python warnings become log records (logger py.warnings), in the same format
