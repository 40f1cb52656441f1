"""Production: secrets from the environment, HTTPS only, learner code only in Docker. ``manage.py check
--deploy`` passes clean."""

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
if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure"):  # noqa: F405
    raise ImproperlyConfigured("Production needs SECRET_KEY: at least 50 random characters.")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
